"""Progress in a batch log: one line per epoch, no control characters (a terminal gets
Lightning's progress bar instead: dlrun.training.trainer.progress_bar_callback chooses)."""

from __future__ import annotations

import logging
import math
import time

from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

log = logging.getLogger("dlrun")

# the metrics an epoch line shows, in this order; per-layer diagnostics stay in metrics.csv
SHOWN_PREFIXES = ("train/", "val/")


def epoch_line(epoch: int, max_epochs: int, step: int, metrics: dict, seconds: float) -> str:
    """`epoch 3/20  step 69  train/loss 0.2121  val/acc 0.9615  val/loss 0.1873  2.1 s`"""
    of = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
    shown = [f"{name} {value:.4g}" for name, value in sorted(metrics.items())
             if name.startswith(SHOWN_PREFIXES) and math.isfinite(value)]
    return "  ".join([f"epoch {epoch}{of}", f"step {step}", *shown, f"{seconds:.1f} s"])


class EpochLines(ProgressBar):
    """A progress 'bar' for logs: at each training epoch's end (after its validation), one
    line to the `dlrun` logger, so it reaches the console and run.log alike."""

    def __init__(self):
        super().__init__()
        self._enabled = True
        self._started = time.monotonic()

    def disable(self) -> None:  # Lightning disables progress bars on ranks other than zero
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer, pl_module) -> None:
        self._started = time.monotonic()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self._enabled:
            return
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if value.numel() == 1}
        log.info(epoch_line(trainer.current_epoch + 1, trainer.max_epochs, trainer.global_step, metrics,
                            time.monotonic() - self._started))
