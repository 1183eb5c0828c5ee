"""Divergence guard: the run stops at once when the training loss is not finite, or has
exploded past `max_loss_ratio` times the first loss (Adam with a huge lr keeps the loss
finite but astronomically large), and when a validation loss is not finite.

The training loss is checked before backward, so the bad loss never reaches the weights,
and by raising, so no checkpoint is written after it: checkpoints/last.ckpt (written at
the start of training and at every epoch end) stays the last good one. The runner turns
`Diverged` into summary status `diverged` with this message.
"""

from __future__ import annotations

import math
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from dlrun.recipe.metrics import metric_name


class Diverged(RuntimeError):
    """The loss went non-finite or exploded; str() says where and what is kept."""


def _kept_checkpoint(run_dir: Path) -> str:
    for name in ("last.ckpt", "best.ckpt"):
        path = Path(run_dir) / "checkpoints" / name
        if path.is_file():
            return str(path)
    return "none (no checkpoint was written before it)"


class DivergenceGuard(Callback):
    def __init__(self, run_dir, check_every_n_steps: int, max_loss_ratio):
        self.run_dir = Path(run_dir)
        self.check_every_n_steps, self.max_loss_ratio = check_every_n_steps, max_loss_ratio
        self.first_loss = None
        self.last_finite = None  # (step, loss)

    def state_dict(self):
        return {"first_loss": self.first_loss, "last_finite": self.last_finite}

    def load_state_dict(self, state):
        self.first_loss, self.last_finite = state["first_loss"], state["last_finite"]

    def _problem(self, loss: float):
        if not math.isfinite(loss):
            return "is not finite"
        if self.max_loss_ratio is not None and self.first_loss is not None:
            limit = self.max_loss_ratio * max(abs(self.first_loss), 1e-12)
            if loss > limit:
                return f"exceeds {self.max_loss_ratio:g} x the first loss {self.first_loss:.4g}"
        return None

    def _stop(self, trainer, what: str, loss: float, problem: str):
        last = (f"last finite loss {self.last_finite[1]:.6g} at step {self.last_finite[0]}"
                if self.last_finite else "no finite loss before it")
        raise Diverged(f"diverged at step {trainer.global_step} (epoch {trainer.current_epoch}): {what} {loss:.6g} "
                       f"{problem}; {last}; run stopped; last good checkpoint: {_kept_checkpoint(self.run_dir)}")

    def on_before_backward(self, trainer, pl_module, loss):
        if trainer.global_step % self.check_every_n_steps:
            return
        value = float(loss.detach())  # the one host sync a check costs
        problem = self._problem(value)
        # every rank stops together, whichever saw it (a lone rank raising would hang the others)
        if trainer.strategy.reduce_boolean_decision(problem is not None, all=False):
            self._stop(trainer, "training loss", value, problem or "is bad on another rank")
        if self.first_loss is None:
            self.first_loss = value
        self.last_finite = (trainer.global_step, value)

    def on_validation_end(self, trainer, pl_module):
        # before ModelCheckpoint (Lightning runs it last) can save weights that give a NaN
        value = trainer.callback_metrics.get(metric_name("val", "loss"))
        if trainer.sanity_checking or value is None or math.isfinite(float(value)):
            return
        self._stop(trainer, "validation loss", float(value), "is not finite")


def divergence_callback(cfg, run_dir):
    settings = cfg.callbacks.divergence
    if not settings.enabled:
        return None
    return DivergenceGuard(run_dir, settings.check_every_n_steps, settings.max_loss_ratio)
