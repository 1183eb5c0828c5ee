"""TaskModule: the one LightningModule. Loss and metrics follow spec.task; every stage
goes through `_common_step`; the optimizer and schedule come from their factories.

A run's TaskModule keeps its resolved config, DataSpec and the data's input transform
(dlrun.data.transform: raw inputs to model inputs) as hyperparameters, so a checkpoint
rebuilds it alone, and `dlrun predict` reads new raw data with it, as Lightning users expect:

    task = dlrun.TaskModule.load_from_checkpoint("RUN_DIR/checkpoints/best.ckpt")
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from dlrun.base.lightning_private import logs_this_step
from dlrun.data.spec import IGNORE, DataSpec
from dlrun.recipe.metrics import LR, METRICS_BY_TASK, metric_name
from dlrun.recipe.optim import build_optimizer
from dlrun.recipe.schedule import build_scheduler, scheduler_steps


def _rebuilt_model(config: dict, spec: DataSpec):
    """The network a run's config builds (its weights come from the checkpoint)."""
    from dlrun.models.zoo import build_model

    return build_model(config["model"], spec)


def task_losses(task: str, outputs, targets, smoothing: float = 0.0, with_metrics: bool = True) -> dict:
    """The loss, and (with_metrics) the task's other metrics: a training step that is not
    logged skips them (a few kernel launches each). `smoothing`: label smoothing of the
    cross-entropy (training only). Also a population member's (dlrun.population)."""
    if task == "regression":
        outputs = outputs.view_as(targets)
        loss = F.mse_loss(outputs, targets)
        return {"loss": loss, "mae": (outputs - targets).abs().mean()} if with_metrics else {"loss": loss}
    if task == "sequence":
        outputs, targets = outputs.flatten(0, 1), targets.flatten()  # (N*T, classes), (N*T,)
    loss = F.cross_entropy(outputs, targets, label_smoothing=smoothing)
    if not with_metrics:
        return {"loss": loss}
    if task == "sequence":  # positions marked IGNORE carry no label: the loss skips them, so does accuracy
        scored = targets != IGNORE
        return {"loss": loss, "acc": (outputs.argmax(-1)[scored] == targets[scored]).float().mean()}
    return {"loss": loss, "acc": (outputs.argmax(-1) == targets).float().mean()}


class TaskModule(L.LightningModule):
    def __init__(self, model=None, spec=None, cfg_optim=None, cfg_schedule=None, label_smoothing: float = 0.0,
                 config=None, transform=None):
        """`config`: the run's resolved config, saved with `spec` and `transform` (an
        InputTransform's dict) as hyperparameters (plain containers: a checkpoint loads with
        weights_only). Given only those (as load_from_checkpoint does), the rest is built
        from the config."""
        super().__init__()
        if isinstance(spec, dict):  # from a checkpoint's hyperparameters
            spec = DataSpec(**{**spec, "input_shape": tuple(spec["input_shape"])})
        if config is not None:
            from omegaconf import OmegaConf

            config = config if isinstance(config, dict) else OmegaConf.to_container(config, resolve=True)
            saved = {"config": config, "spec": spec.to_dict()}
            self.save_hyperparameters(saved if transform is None else {**saved, "transform": transform}, logger=False)
            if model is None:
                model = _rebuilt_model(config, spec)
                cfg_optim, cfg_schedule = config["optim"], config["schedule"]
                label_smoothing = config["loss"]["label_smoothing"]
        self.model, self.spec = model, spec
        self.cfg_optim, self.cfg_schedule = cfg_optim, cfg_schedule
        self.label_smoothing = label_smoothing

    def __setattr__(self, name, value):
        # Lightning sets _current_fx_name twice around every hook call (about 50 times a
        # step); nn.Module.__setattr__ checks parameter, buffer and module tables each
        # time. A plain string attribute needs none of that.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # preloaded tensors are already on the training device: skip Lightning's
        # recursive walk over the batch (tens of microseconds a step)
        if isinstance(batch, (tuple, list)) and all(isinstance(part, torch.Tensor) and part.device == device
                                                    for part in batch):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def forward(self, inputs):
        return self.model(inputs)

    def _losses_and_metrics(self, outputs, targets, with_metrics: bool = True) -> dict:
        return task_losses(self.spec.task, outputs, targets, self.label_smoothing if self.training else 0.0,
                           with_metrics)

    def _common_step(self, batch, stage: str):
        inputs, targets = batch
        logged = stage != "train" or self._train_step_is_logged()
        values = self._losses_and_metrics(self(inputs), targets, with_metrics=logged)
        if stage != "train":
            for name in METRICS_BY_TASK[self.spec.task]:
                self.log(metric_name(stage, name), values[name], on_step=False, on_epoch=True, prog_bar=stage == "val",
                         batch_size=len(inputs), sync_dist=True)
        elif logged:
            self._log_train_step(values, len(inputs))
        return values["loss"]

    def _train_step_is_logged(self) -> bool:
        """True on the steps whose metrics reach the loggers (every log_every_n_steps-th).
        self.log costs about 1 ms of Python a call, more than a small model's whole step,
        and a logged tensor is read on the host later: the other steps log nothing."""
        trainer = self._trainer
        if trainer is None:  # called outside a Trainer (a user's own loop)
            return False
        # the very condition under which Lightning hands step metrics to the loggers
        return logs_this_step(trainer)

    def _log_train_step(self, values: dict, batch_size: int) -> None:
        for name in METRICS_BY_TASK[self.spec.task]:
            self.log(metric_name("train", name), values[name], on_step=True, on_epoch=False, prog_bar=name == "loss",
                     batch_size=batch_size)
        # the lr this step used (first parameter group: all share the schedule)
        self.log(LR, self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False,
                 batch_size=batch_size)

    def on_save_checkpoint(self, checkpoint) -> None:
        # metrics.csv is written at most every second or so (dlrun.loggers.csv_logger); a
        # checkpoint is where a resume continues, so the rows up to it go to disk first
        from dlrun.loggers.csv_logger import flush_metrics_file

        if self._trainer is not None:
            flush_metrics_file(self._trainer.loggers)

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
