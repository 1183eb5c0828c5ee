"""The one LightningDataModule: loads a dataset by name and exposes its DataSpec."""

from __future__ import annotations

import lightning as L
import torch

from dlrun.data.loaders import TensorBatches
from dlrun.data.registry import load_splits


class DataModule(L.LightningDataModule):
    def __init__(self, cfg_data, seed: int):
        super().__init__()
        self.cfg = cfg_data
        self.seed = seed
        self.splits = None

    @property
    def spec(self):
        if self.splits is None:
            self.setup()
        return self.splits.spec

    def setup(self, stage=None):
        if self.splits is None:
            self.splits = load_splits(self.cfg, self.seed)

    def _batches(self, split, shuffle: bool):
        if isinstance(split, tuple):
            trainer = getattr(self, "trainer", None)
            if trainer is None:
                return TensorBatches(*split, batch_size=self.cfg["batch_size"], shuffle=shuffle, seed=self.seed)
            return TensorBatches(*split, batch_size=self.cfg["batch_size"], shuffle=shuffle, seed=self.seed,
                                 rank=trainer.global_rank, world_size=trainer.world_size,
                                 epoch_source=lambda: trainer.current_epoch,
                                 batches_done_source=(lambda: trainer.fit_loop.epoch_loop.batch_progress.current.completed)
                                 if shuffle else None)  # the train loader resumes mid-epoch
        trainer = getattr(self, "trainer", None)
        world_size = trainer.world_size if trainer is not None else 1
        sampler = None  # training under DDP: Lightning adds a shuffling DistributedSampler
        if world_size > 1 and not shuffle:
            from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

            # evaluation sees every sample exactly once (Lightning's default sampler pads with repeats)
            sampler = UnrepeatedDistributedSampler(split, num_replicas=world_size, rank=trainer.global_rank,
                                                   shuffle=False)
        return torch.utils.data.DataLoader(
            split, batch_size=max(1, self.cfg["batch_size"] // world_size), shuffle=shuffle, sampler=sampler,
            num_workers=self.cfg.get("num_workers", 0), persistent_workers=self.cfg.get("num_workers", 0) > 0,
        )

    def train_dataloader(self):
        return self._batches(self.splits.train, shuffle=True)

    def val_dataloader(self):
        return self._batches(self.splits.val, shuffle=False)

    def test_dataloader(self):
        return self._batches(self.splits.test, shuffle=False)
