"""The Lightning private API dlrun relies on (dlrun.base.lightning_private), checked on a
tiny real Trainer: after a Lightning upgrade, a failure here names the helper to rewrite."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from dlrun.base import lightning_private as private


class _Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.layer(batch[0]).pow(2).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _Seen(Callback):
    def __init__(self):
        self.steps = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.steps.append((private.logs_this_step(trainer), private.logging_step(trainer),
                           private.train_batches_done(trainer)))


def _loader():
    data = torch.utils.data.TensorDataset(torch.ones(8, 2))
    return torch.utils.data.DataLoader(data, batch_size=2)


def test_the_private_helpers_read_what_they_say(tmp_path):
    seen = _Seen()
    logger = CSVLogger(save_dir=str(tmp_path), name="", version="")
    writer = ExperimentWriter(log_dir=logger.log_dir)
    private.set_csv_writer(logger, writer)
    trainer = L.Trainer(max_epochs=1, log_every_n_steps=2, callbacks=[seen], logger=logger, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(_Tiny(), _loader(), _loader())
    assert logger.experiment is writer
    # steps 0..3: logged on every second one (steps 1 and 3 are the 2nd and 4th); counters before each batch
    assert seen.steps == [(False, 0, 0), (True, 1, 1), (False, 2, 2), (True, 3, 3)]
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    progress = private.validation_progress(torch.load(tmp_path / "last.ckpt", weights_only=False))
    assert progress["total"]["completed"] == 4 and set(progress["current"]) >= {"ready", "started", "processed"}
    writer.metrics = [{"new/column": 1.0, "step": 9}]
    private.record_new_csv_columns(writer)
    assert "new/column" in writer.metrics_keys


def test_the_wandb_argument_is_dropped():
    pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    logger = WandbLogger(mode="disabled", anonymous=False)
    private.drop_wandb_init_argument(logger, "anonymous")
    assert "anonymous" not in logger._wandb_init


class _CountsTrainBatchEnd(Callback):
    def __init__(self):
        self.ends = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.ends += 1


class _Idle(Callback):
    """Overrides nothing: every hook of it a dispatcher calls is one that does nothing."""


def test_idle_batch_hooks_are_skipped_and_overridden_ones_still_run(tmp_path, monkeypatch):
    counting, idle = _CountsTrainBatchEnd(), _Idle()
    hooks = ("on_train_batch_start", "on_train_batch_end")
    for callback in (counting, idle):
        private.skip_idle_batch_hooks(callback, hooks, Callback)
    assert idle.on_train_batch_end is None and idle.on_train_batch_start is None
    assert counting.on_train_batch_start is None and callable(counting.on_train_batch_end)
    trainer = L.Trainer(max_epochs=1, callbacks=[counting, idle], logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(_Tiny(), _loader(), _loader())  # a None hook called would raise TypeError
    assert counting.ends == 4

