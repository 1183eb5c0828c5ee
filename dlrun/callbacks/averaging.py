"""Weight averaging: EMA and SWA, and what they share.

Training steps the raw weights; an average of them is kept beside (same device, one copy
of the floating-point state: parameters and float buffers such as BatchNorm statistics).
Validation during fit runs on the average (swapped in, then back); every checkpoint's
`state_dict` holds the average, so `best.ckpt`, `dlrun eval` and `init=checkpoint` see the
averaged model, while the raw weights ride along in the callback's state so that a resumed
run trains on from them. When training ends the average replaces the raw weights for good.

EMA: average <- decay * average + (1 - decay) * weights, every N steps. With `warmup` the
decay after n updates is min(decay, (1 + n) / (10 + n)) (as in TensorFlow's
ExponentialMovingAverage with num_updates): early on the average follows the weights
closely, so the random initialisation does not linger in it for ~1/(1-decay) steps.

SWA (Izmailov et al. 2018): the equal-weight mean of the weights visited after a start
point, taken once per epoch (classic SWA, at the epoch's last batch so that the epoch's
validation already sees it) or every N optimizer steps. The start is a fraction of the
planned optimizer steps (the trainer's estimate, so it follows max_epochs / max_steps /
limit_train_batches). BatchNorm statistics are averaged with the weights rather than recomputed.
"""

from __future__ import annotations

import math

import torch
from lightning.pytorch.callbacks import Callback

from dlrun.callbacks.choices import AVERAGERS
from dlrun.base.options import load_object, lookup

TRAINING_WEIGHTS = "training_weights"


class WeightAverage(Callback):
    """Subclasses say when to fold the weights in (`_due`) and with what weight (`_weight`)."""

    def __init__(self):
        self.names: list = []  # floating-point state_dict entries that are averaged
        self.average: list = []  # their averages, aligned with self.names
        self.count = 0  # how many times the weights were folded in
        self._backup = None  # raw weights while the average is swapped in
        self._restored = None  # averages read from a checkpoint, until fit starts

    def _live(self, pl_module) -> list:
        state = pl_module.state_dict(keep_vars=True)
        return [state[name].data for name in self.names]

    def _due(self, trainer, batch_idx: int) -> bool:
        raise NotImplementedError

    def _weight(self) -> float:
        """The lerp weight of the new weights: average += weight * (new - average)."""
        raise NotImplementedError

    def on_fit_start(self, trainer, pl_module):
        self.names = [name for name, value in pl_module.state_dict().items() if value.is_floating_point()]
        live = self._live(pl_module)
        restored = self._restored or {}
        self.average = [restored[name].to(tensor.device) if name in restored else tensor.detach().clone()
                        for name, tensor in zip(self.names, live)]
        self._restored = None

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._due(trainer, batch_idx):
            weight = self._weight()
            torch._foreach_lerp_(self.average, self._live(pl_module), weight)
            self.count += 1

    # -- evaluation on the average ---------------------------------------------------------
    @torch.no_grad()
    def _swap_in(self, pl_module):
        if self._backup is None and self.count > 0:
            live = self._live(pl_module)
            self._backup = [tensor.clone() for tensor in live]
            torch._foreach_copy_(live, self.average)

    @torch.no_grad()
    def _swap_out(self, pl_module):
        if self._backup is not None:
            torch._foreach_copy_(self._live(pl_module), self._backup)
            self._backup = None

    def on_validation_start(self, trainer, pl_module):
        if trainer.state.fn == "fit":  # a test or validate call after fit has its own weights
            self._swap_in(pl_module)

    def on_validation_end(self, trainer, pl_module):
        self._swap_out(pl_module)

    def on_exception(self, trainer, pl_module, exception):
        self._swap_out(pl_module)  # a signal can land mid-validation: train weights back first

    @torch.no_grad()
    def on_train_end(self, trainer, pl_module):
        if self.count > 0:  # the averaged model is the result of training
            torch._foreach_copy_(self._live(pl_module), self.average)

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = state["count"]

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        if not self.names:
            return
        weights = checkpoint["state_dict"]
        raw = self._backup or self._live(pl_module)
        checkpoint["callbacks"][self.state_key][TRAINING_WEIGHTS] = {
            name: tensor.detach().clone() for name, tensor in zip(self.names, raw)}
        if self.count > 0:
            weights.update({name: average.detach().clone() for name, average in zip(self.names, self.average)})

    @torch.no_grad()
    def on_load_checkpoint(self, trainer, pl_module, checkpoint):
        """Lightning has loaded the averaged state_dict into the module: keep it as the
        average and put the raw training weights back into the module."""
        raw = checkpoint.get("callbacks", {}).get(self.state_key, {}).get(TRAINING_WEIGHTS)
        if raw is None or trainer.state.fn != "fit":  # validate/test from a checkpoint: its average it is
            return
        restored = {name: checkpoint["state_dict"][name].clone() for name in raw}
        if self.average:  # strategies that restore after on_fit_start (FSDP): fill the average now
            torch._foreach_copy_(self.average, [restored[name] for name in self.names])
        else:
            self._restored = restored
        state = pl_module.state_dict(keep_vars=True)
        for name, tensor in raw.items():
            state[name].data.copy_(tensor)


class ExponentialMovingAverage(WeightAverage):
    def __init__(self, settings):
        super().__init__()
        self.decay, self.warmup, self.every_n_steps = settings.decay, settings.warmup, settings.every_n_steps

    def _due(self, trainer, batch_idx: int) -> bool:
        return trainer.global_step % self.every_n_steps == 0

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.count) / (10 + self.count))

    def _weight(self) -> float:
        return 1.0 - self.current_decay()


class StochasticWeightAverage(WeightAverage):
    def __init__(self, settings):
        super().__init__()
        self.start_fraction, self.every_n_steps = settings.start_fraction, settings.every_n_steps

    def start_step(self, trainer) -> int:
        return math.floor(self.start_fraction * trainer.estimated_stepping_batches)

    def _due(self, trainer, batch_idx: int) -> bool:
        if trainer.global_step < max(1, self.start_step(trainer)):
            return False
        if self.every_n_steps == 0:
            return batch_idx + 1 == trainer.num_training_batches
        return trainer.global_step % self.every_n_steps == 0

    def _weight(self) -> float:
        return 1.0 / (self.count + 1)  # running mean of count + 1 snapshots


def averaging_callback(cfg, run_dir):
    settings = cfg.callbacks.averaging
    target = lookup(AVERAGERS, "callbacks.averaging.name", settings.name).impl
    return None if target is None else load_object(target)(settings[settings.name])
