"""What makes a run resumable beyond Lightning's own checkpoint contents.

- checkpoints/last.ckpt is written when training starts, at an epoch end (after that
  epoch's validation) once `min_interval_s` have passed since the last one, when training
  ends, and when a run fails, so a run that is stopped, fails or diverges always has one
  to resume from or fall back on. The interval keeps tiny epochs (digits: 30 ms) from
  spending a third of their time writing checkpoints; long epochs save at every end. (Lightning 2.6's ModelCheckpoint rewrites last.ckpt only when the
  best checkpoint improves, so it keeps best.ckpt only.)
- SIGTERM: Lightning finishes the batch (its validation and logging too) and raises
  SIGTERMException; this callback then saves last.ckpt, mid-epoch if need be (Lightning's
  progress counters record which batches are done; the train loader skips them on
  resume), and the runner writes status `interrupted`. A first Ctrl+C (SIGINT) takes the
  same path; a second one stops at once without a new checkpoint.
- SIGUSR1 under SLURM (its warning before the time limit, Lightning's auto-requeue): Lightning
  would save its hpc checkpoint inside the signal handler, wherever the step stands (weights
  stepped, progress counters not yet), and the requeued run would differ from an uninterrupted
  one. Here the signal stops training after the batch as SIGTERM does; then Lightning's handler
  saves hpc_ckpt_N.ckpt from that consistent state and requeues the job.
- the random states (torch CPU and CUDA, numpy, python) travel in the checkpoint, so
  dropout and gradient noise continue the same sequence after `dlrun resume`.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dlrun.base.atomic import is_out_of_space
from dlrun.base.lightning_private import validation_progress
from dlrun.callbacks.divergence import Diverged

log = logging.getLogger("dlrun")
LAST_CHECKPOINT = "last.ckpt"


def random_states() -> dict:
    """All generators, as tensors and plain values (loadable with torch.load(weights_only=True))."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    states = {"torch": torch.get_rng_state(), "python": random.getstate(),
              "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def rewind_validation(checkpoint: dict) -> None:
    """A signal that lands mid-validation: make the resumed run redo that validation from
    its first batch. Lightning resumes a validation where it stopped, which suits only a
    stateful val loader, and loses the metrics of the batches before the stop; here the
    progress reads 'validation started, no batch done yet', which Lightning restarts whole."""
    progress = validation_progress(checkpoint)
    before = progress["total"]["completed"] - progress["current"]["completed"]  # earlier validations
    progress["total"].update(ready=before + 1, started=before + 1, processed=before, completed=before)
    progress["current"].update(ready=1, started=1, processed=0, completed=0)
    progress["is_last_batch"] = False


class Resumable(Callback):
    def __init__(self, run_dir, save_last: bool, min_interval_s: float = 0.0):
        self.run_dir = Path(run_dir)
        self.last_path = self.run_dir / "checkpoints" / LAST_CHECKPOINT
        self.save_last = save_last  # at the start, epoch ends and the end; a signal saves one regardless
        self.min_interval_s = min_interval_s
        self._saved_at, self._saved_step = float("-inf"), None
        self._previous_sigint = None
        self._requeue_handler = self._requeue_signal = None  # Lightning's SIGUSR1 handler; the signal seen
        self._stopping = False
        self._mid_validation = False

    def state_dict(self):
        return {"random_states": random_states()}

    def load_state_dict(self, state):
        restore_random_states(state["random_states"])

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        if self._mid_validation:
            rewind_validation(checkpoint)

    def _saving(self, trainer, save) -> None:
        # a stop during validation: the checkpoint must say "redo this validation" (on_save_checkpoint)
        self._mid_validation = trainer.validating
        try:
            save()
        finally:
            self._mid_validation = False

    def _save_last(self, trainer) -> None:
        self._saving(trainer, lambda: trainer.save_checkpoint(self.last_path, weights_only=False))
        self._saved_at, self._saved_step = time.monotonic(), trainer.global_step

    def on_train_start(self, trainer, pl_module):
        if self.save_last and trainer.ckpt_path is None:
            self._save_last(trainer)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)
            self._defer_requeue_signal()

    def _defer_requeue_signal(self) -> None:
        """Lightning's SIGUSR1 handler (SLURM's auto-requeue), when it set one, runs after the batch."""
        handler = getattr(signal, "SIGUSR1", None) and signal.getsignal(signal.SIGUSR1)
        if callable(handler) and os.environ.get("SLURM_JOB_ID"):  # a SLURM job's handler, not a user's
            self._requeue_handler = handler
            signal.signal(signal.SIGUSR1, self._on_requeue_signal)

    def _on_requeue_signal(self, signum, frame):
        if self._requeue_signal is None:
            log.warning("SLURM's warning before the time limit: stopping after this batch to save %s and "
                        "requeue the job", self.run_dir)
        self._requeue_signal = signum
        sigterm_handler = signal.getsignal(signal.SIGTERM)  # Lightning's: stop after the batch
        if callable(sigterm_handler):
            sigterm_handler(signum, frame)

    def _on_sigint(self, signum, frame):
        if self._stopping:  # the second Ctrl+C: now
            self._restore_sigint()
            raise KeyboardInterrupt
        self._stopping = True
        log.warning("Ctrl+C: stopping after this batch and saving %s (press Ctrl+C again to stop at once)",
                    self.last_path)
        sigterm_handler = signal.getsignal(signal.SIGTERM)  # Lightning's, while it trains
        if callable(sigterm_handler):
            sigterm_handler(signum, frame)

    def _restore_sigint(self):
        if self._previous_sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def on_train_epoch_end(self, trainer, pl_module):
        # the last epoch end always saves (not on_train_end: weight averaging has put the
        # average into the module by then, and the raw training weights would be lost)
        if self.save_last and (_training_ends_now(trainer) or time.monotonic() - self._saved_at >= self.min_interval_s):
            self._save_last(trainer)

    def on_train_end(self, trainer, pl_module):
        self._restore_sigint()

    def on_exception(self, trainer, pl_module, exception):
        self._restore_sigint()
        if isinstance(exception, SIGTERMException):
            self._save_last(trainer)
            if self._requeue_signal is not None:  # Lightning's handler: the hpc checkpoint, then the requeue
                self._saving(trainer, lambda: self._requeue_handler(self._requeue_signal, None))
            log.warning("interrupted at step %d (epoch %d): saved %s; continue with: dlrun resume %s",
                        trainer.global_step, trainer.current_epoch, self.last_path, self.run_dir)
        elif self.save_last and _keeps_weights(exception) and trainer.world_size == 1:
            self._save_failed_run(trainer)

    def _save_failed_run(self, trainer) -> None:
        """A run that raised keeps the weights of its last completed step. (Under several
        processes saving is collective and the other ranks may be gone: not attempted.)"""
        try:
            self._save_last(trainer)
            log.warning("failed at step %d: saved %s", trainer.global_step, self.last_path)
        except Exception as error:  # the run's own error is the one to report
            if not is_out_of_space(error):  # a full disk: the run's one error line says it
                log.warning("failed at step %d; could not save %s: %s", trainer.global_step, self.last_path, error)


def _training_ends_now(trainer) -> bool:
    """At an epoch end: is this the last one (a stop request, the step or epoch budget)?"""
    if trainer.should_stop:
        return True
    if trainer.max_steps is not None and trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
        return True
    return trainer.max_epochs is not None and trainer.max_epochs >= 0 and trainer.current_epoch + 1 >= trainer.max_epochs


def _keeps_weights(exception) -> bool:
    """Weights worth saving after this exception: not a divergence (the weights may be the
    bad ones: last.ckpt stays the last good one) and not a second Ctrl+C (stop at once)."""
    return not isinstance(exception, (Diverged, KeyboardInterrupt))


def resumable_callback(cfg, run_dir):
    settings = cfg.callbacks.checkpoint
    return Resumable(run_dir, save_last=settings.save_last, min_interval_s=settings.last_min_interval_s)
