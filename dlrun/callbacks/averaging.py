"""Weight averaging (the shared part of EMA and SWA).

Training steps the raw weights; an average of them is kept beside (same device, one copy
of the floating-point state: parameters and float buffers such as BatchNorm statistics).
Validation during fit runs on the average (swapped in, then back); every checkpoint's
`state_dict` holds the average, so `best.ckpt`, `dlrun eval` and `init=checkpoint` see the
averaged model, while the raw weights ride along in the callback's state so that a resumed
run trains on from them. When training ends the average replaces the raw weights for good.
"""

from __future__ import annotations

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


def averaging_callback(cfg, run_dir):
    settings = cfg.callbacks.averaging
    target = lookup(AVERAGERS, "callbacks.averaging.name", settings.name).impl
    return None if target is None else load_object(target)(settings[settings.name])
