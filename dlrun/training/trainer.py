"""Build the Lightning Trainer from cfg.hardware, cfg.trainer, cfg.callbacks and cfg.logger."""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.profilers import AdvancedProfiler, PassThroughProfiler, SimpleProfiler

from dlrun.base.lightning_private import skip_idle_batch_hooks
from dlrun.callbacks.activations import activations_callback
from dlrun.training.checkpoint_io import AtomicCheckpointIO
from dlrun.callbacks.averaging import averaging_callback
from dlrun.callbacks.divergence import divergence_callback
from dlrun.callbacks.grad_norm import grad_norm_callback
from dlrun.callbacks.gradient_noise import gradient_noise_callback
from dlrun.callbacks.resumable import resumable_callback
from dlrun.callbacks.update_ratio import update_ratio_callback
from dlrun.distributed.callbacks import compile_callback, rank_record_callback
from dlrun.distributed.strategies import build_strategy
from dlrun.training.history import MetricHistory
from dlrun.loggers.table import build_loggers
from dlrun.recipe.metrics import direction, primary_objective
from dlrun.recipe.optim import gradient_clipping


def history_callback(cfg, run_dir: Path):
    return MetricHistory(cfg.trainer.log_every_n_steps)


class _BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose state_key is computed once: Lightning formats it into the
    profiler label of every hook call (about six a step), and ModelCheckpoint builds it
    from a repr of its settings each time. Same value, so checkpoints are unchanged."""

    @property
    def state_key(self) -> str:
        key = self.__dict__.get("_cached_state_key")
        if key is None:
            # named as plain ModelCheckpoint's: checkpoints written before this class still resume
            key = super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)
            self.__dict__["_cached_state_key"] = key
        return key


def checkpoint_callback(cfg, run_dir: Path):
    settings = cfg.callbacks.checkpoint
    if not settings.save_best:
        return None
    # last.ckpt is dlrun.callbacks.resumable's: Lightning 2.6 rewrites it only when best.ckpt improves
    best = _BestCheckpoint(
        dirpath=run_dir / "checkpoints", filename="best", monitor=primary_objective(cfg.objective),
        mode=direction(primary_objective(cfg.objective))[:3], save_top_k=1, save_last=False,
        enable_version_counter=False,
    )
    # no step or time schedule: it saves at validation ends only, and its batch-end hook would check
    # trainer state every step to do nothing; not called at all (a hook that is not callable is
    # skipped: dlrun.base.lightning_private.skip_idle_batch_hooks)
    best.on_train_batch_end = None
    return best


def early_stopping_callback(cfg, run_dir: Path):
    stopping = cfg.callbacks.early_stopping
    if not stopping.enabled:
        return None
    return EarlyStopping(monitor=primary_objective(cfg.objective), mode=direction(primary_objective(cfg.objective))[:3],
                         patience=stopping.patience, min_delta=stopping.min_delta)


def progress_bar_callback(cfg, run_dir: Path):
    """A person at a terminal gets Lightning's bar; a batch log (and run.log) one line per epoch.
    A sweep trial's lines go to its run.log only (dlrun.training.console.ConsoleFilter)."""
    from dlrun.training.console import in_sweep_trial, on_terminal

    if not cfg.trainer.progress_bar:
        return None
    if on_terminal() and not in_sweep_trial():
        return TQDMProgressBar(refresh_rate=max(1, cfg.trainer.log_every_n_steps))
    from dlrun.training.progress import EpochLines

    return EpochLines()


# Every callback a run may get: factory(cfg, run_dir) -> Callback or None (when off).
# A new callback is one factory here; its knobs live in conf/callbacks/*.yaml.
CALLBACK_FACTORIES = [
    history_callback,
    checkpoint_callback,
    early_stopping_callback,
    progress_bar_callback,
    compile_callback,
    rank_record_callback,
    # the diagnostics see the gradients before gradient noise is added (hooks run in this order)
    grad_norm_callback,
    update_ratio_callback,
    activations_callback,
    gradient_noise_callback,
    divergence_callback,
]
# After the caller's callbacks (dlrun.training.hooks: a sweep trial's pruning, which may stop
# the run after a validation round), so that their on_exception sees such a stop too.
LAST_CALLBACK_FACTORIES = [
    averaging_callback,  # before resumable: its on_exception puts the training weights back first
    resumable_callback,
]


# Hooks Lightning calls on every callback at every batch, overridden or not (a profiler
# label, a property and a call each: about 35 calls a step for the default callbacks).
PER_BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
                   "on_before_optimizer_step", "on_before_zero_grad", "on_validation_batch_start",
                   "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end")


def build_callbacks(cfg, run_dir: Path, callback_factories=()) -> list:
    """The run's callbacks, with the caller's (`callback_factories`, same signature) in their
    place; per-batch hooks a callback does not override are not called at all."""
    factories = [*CALLBACK_FACTORIES, *callback_factories, *LAST_CALLBACK_FACTORIES]
    made = (factory(cfg, run_dir) for factory in factories)
    return [skip_idle_batch_hooks(callback, PER_BATCH_HOOKS, L.Callback) for callback in made if callback is not None]


def route_lightning_logs() -> None:
    """Lightning gives its logger a console handler of its own and also propagates to the
    root logger; when the root logger already writes the console and run.log (Hydra's
    logging, or dlrun.run's), drop Lightning's handler so each line appears once."""
    if logging.getLogger().hasHandlers():
        lightning_logger = logging.getLogger("lightning")
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _LightningChatter) for f in rank_zero.filters):
        rank_zero.addFilter(_LightningChatter())
    warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # TaskModule.transfer_batch_to_device is the intended one (it skips preloaded batches)
    warnings.filterwarnings("ignore", message=r".*overridden `transfer_batch_to_device`.*")
    # said on every run of a machine with SLURM's tools (a login node, a workstation with a
    # cluster client); dlrun starts a SLURM job's ranks itself (dlrun.distributed), never by
    # Lightning's srun detection
    warnings.filterwarnings("ignore", message=r".*The `srun` command is available on your system but is not used.*")


class _LightningChatter(logging.Filter):
    """Drops Lightning's start-up chatter (tips, 'was configured so 100%...', device
    availability) from the console and run.log; warnings and errors pass."""

    NOISE = ("Tip:", "was configured so", "available:", "Loading `train_dataloader`", "Restoring states", "Loaded model weights")

    def filter(self, record) -> bool:
        return record.levelno > logging.INFO or not any(text in record.getMessage() for text in self.NOISE)


class _FreeProfiler(PassThroughProfiler):
    """Lightning wraps every hook call (about 100 a step) in `profiler.profile(name)`, a
    generator-based context manager even when profiling is off: about 1.5 us each. This one
    hands back one reusable null context instead."""

    _NULL = contextlib.nullcontext()

    def profile(self, action_name):
        return self._NULL


def build_profiler(cfg, run_dir: Path):
    """trainer.profiler: null (off, free) or one of Lightning's (simple, advanced, pytorch),
    writing its report into the run folder."""
    name = cfg.trainer.get("profiler")
    if name is None:
        return _FreeProfiler()
    return name if name == "pytorch" else {"simple": SimpleProfiler, "advanced": AdvancedProfiler}[name](
        dirpath=str(run_dir), filename="profile")


def build_trainer(cfg, run_dir: Path, extra_callbacks=(), callback_factories=()) -> L.Trainer:
    """`callback_factories`: the caller's (dlrun.training.hooks.RunHooks.callbacks); `extra_callbacks`:
    ready-made callbacks added last."""
    hardware, knobs = cfg.hardware, cfg.trainer
    route_lightning_logs()
    torch.set_float32_matmul_precision(hardware.matmul_precision)
    if hardware.get("threads"):
        torch.set_num_threads(hardware.threads)
    return L.Trainer(
        accelerator=hardware.accelerator,
        devices=hardware.devices,
        num_nodes=hardware.num_nodes,
        strategy=build_strategy(hardware),
        precision=hardware.precision,
        deterministic=hardware.deterministic,
        max_epochs=knobs.max_epochs,
        max_steps=knobs.max_steps,
        **gradient_clipping(cfg.optim),
        limit_train_batches=knobs.limit_train_batches,
        limit_val_batches=knobs.limit_val_batches,
        limit_test_batches=knobs.limit_test_batches,
        val_check_interval=knobs.val_check_interval,
        check_val_every_n_epoch=knobs.check_val_every_n_epoch,
        log_every_n_steps=knobs.log_every_n_steps,
        enable_progress_bar=knobs.progress_bar,  # progress_bar_callback's is a ProgressBar: Lightning adds none
        enable_model_summary=False,
        profiler=build_profiler(cfg, run_dir),
        enable_checkpointing=cfg.callbacks.checkpoint.save_best,  # else Lightning adds its own epoch=N checkpoints
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO()],  # checkpoints written atomically, with their SHA-256
        logger=build_loggers(cfg, run_dir) or False,
        callbacks=build_callbacks(cfg, run_dir, callback_factories) + list(extra_callbacks),
    )


def find_callback(trainer, cls):
    return next((callback for callback in trainer.callbacks if isinstance(callback, cls)), None)
