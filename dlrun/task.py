"""TaskModule: the one LightningModule. Loss and metrics follow spec.task; every stage
goes through `_common_step`; the optimizer and schedule come from their factories."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from dlrun.metrics import LR, METRICS_BY_TASK, metric_name
from dlrun.optim import build_optimizer
from dlrun.schedule import build_scheduler, scheduler_steps


class TaskModule(L.LightningModule):
    def __init__(self, model, spec, cfg_optim, cfg_schedule, label_smoothing: float = 0.0):
        super().__init__()
        self.model, self.spec = model, spec
        self.cfg_optim, self.cfg_schedule = cfg_optim, cfg_schedule
        self.label_smoothing = label_smoothing

    def forward(self, inputs):
        return self.model(inputs)

    def _losses_and_metrics(self, outputs, targets) -> dict:
        task = self.spec.task
        if task == "regression":
            outputs = outputs.view_as(targets)
            return {"loss": F.mse_loss(outputs, targets), "mae": (outputs - targets).abs().mean()}
        if task == "sequence":
            outputs, targets = outputs.flatten(0, 1), targets.flatten()  # (N*T, classes), (N*T,)
        smoothing = self.label_smoothing if self.training else 0.0
        loss = F.cross_entropy(outputs, targets, label_smoothing=smoothing)
        accuracy = (outputs.argmax(-1) == targets).float().mean()
        return {"loss": loss, "acc": accuracy}

    def _common_step(self, batch, stage: str):
        inputs, targets = batch
        values = self._losses_and_metrics(self(inputs), targets)
        on_step = stage == "train"
        for name in METRICS_BY_TASK[self.spec.task]:
            self.log(metric_name(stage, name), values[name], on_step=on_step, on_epoch=not on_step,
                     prog_bar=name == "loss" or stage == "val", batch_size=len(inputs), sync_dist=stage != "train")
        if stage == "train":  # the lr this step used (first parameter group: all share the schedule)
            self.log(LR, self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False,
                     batch_size=len(inputs))
        return values["loss"]

    def training_step(self, batch, batch_idx):
        return self._common_step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._common_step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._common_step(batch, "test")

    def configure_optimizers(self):
        optimizer = build_optimizer(self.cfg_optim, self.model)
        total = scheduler_steps(self.trainer, self.cfg_schedule["interval"])
        return [optimizer], build_scheduler(self.cfg_schedule, optimizer, total)
