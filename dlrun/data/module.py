"""The one LightningDataModule: loads a dataset by name and exposes its DataSpec."""

from __future__ import annotations

import lightning as L
import torch

from dlrun.base.lightning_private import train_batches_done
from dlrun.data.loaders import TensorBatches
from dlrun.data.datasets import load_splits


def data_seed(cfg) -> int:
    """The seed of the data split and batch order: data.seed (default ${seed}); a run recorded
    before data.seed existed used its run seed."""
    seed = cfg.data.get("seed")
    return cfg.seed if seed is None else seed


class DataModule(L.LightningDataModule):
    def __init__(self, cfg_data, seed: int):
        super().__init__()
        self.cfg = cfg_data
        self.seed = seed
        self.splits = None
        self._on_device = {}  # (split name, device) -> its tensors there

    @property
    def spec(self):
        if self.splits is None:
            self.setup()
        return self.splits.spec

    @property
    def input_transform(self):
        """How raw inputs become this data's model inputs (dlrun.data.transform.InputTransform)."""
        if self.splits is None:
            self.setup()
        return self.splits.transform

    def setup(self, stage=None):
        if self.splits is None:
            self.splits = load_splits(self.cfg, self.seed)

    def _training_device(self):
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else None

    def _preloaded(self, name: str):
        """The split's tensors, moved to the training GPU once (not per batch) and kept there."""
        split, device = getattr(self.splits, name), self._training_device()
        if device is None or device.type == "cpu":
            return split
        key = (name, str(device))
        if key not in self._on_device:
            self._on_device[key] = tuple(tensor.to(device) for tensor in split)
        return self._on_device[key]

    def _batches(self, name: str, shuffle: bool):
        split = getattr(self.splits, name)
        trainer = getattr(self, "trainer", None)
        if isinstance(split, tuple):  # preloaded tensors: the fast path, indexing, no collation
            if trainer is None:
                return TensorBatches(*split, batch_size=self.cfg["batch_size"], shuffle=shuffle, seed=self.seed)
            return TensorBatches(*self._preloaded(name), batch_size=self.cfg["batch_size"], shuffle=shuffle,
                                 seed=self.seed, rank=trainer.global_rank, world_size=trainer.world_size,
                                 epoch_source=lambda: trainer.current_epoch,
                                 batches_done_source=(lambda: train_batches_done(trainer))
                                 if shuffle else None)  # the train loader resumes mid-epoch
        return self._file_batches(split, shuffle, trainer)

    def _file_batches(self, split, shuffle: bool, trainer):
        """A Dataset too big to preload: a DataLoader whose workers read and convert samples."""
        world_size = trainer.world_size if trainer is not None else 1
        sampler = None  # training under DDP: Lightning adds a shuffling DistributedSampler
        if world_size > 1 and not shuffle:
            from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

            # evaluation sees every sample exactly once (Lightning's default sampler pads with repeats)
            sampler = UnrepeatedDistributedSampler(split, num_replicas=world_size, rank=trainer.global_rank,
                                                   shuffle=False)
        workers = self.cfg.get("num_workers", 0)
        device = self._training_device()
        return torch.utils.data.DataLoader(
            split, batch_size=max(1, self.cfg["batch_size"] // world_size), shuffle=shuffle, sampler=sampler,
            num_workers=workers, persistent_workers=workers > 0,
            pin_memory=device is not None and device.type == "cuda",
        )

    def train_dataloader(self):
        return self._batches("train", shuffle=True)

    def val_dataloader(self):
        return self._batches("val", shuffle=False)

    def test_dataloader(self):
        return self._batches("test", shuffle=False)
