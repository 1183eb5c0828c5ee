"""Every use of Lightning's private API (underscored attributes, internal loop state, the
checkpoint's loop layout), in one place, each with why no public API does. A Lightning
upgrade that breaks one breaks it here, and tests/test_lightning_private.py says which.

In the base layer because the domain packages (data, callbacks, loggers) need it as much as
the run layer does. It imports nothing: each helper takes the Lightning object it reads.
"""

from __future__ import annotations


def logs_this_step(trainer) -> bool:
    """Whether Lightning hands this training step's metrics to the loggers (every
    log_every_n_steps-th step). Why: dlrun logs train metrics on those steps only (self.log
    costs about 1 ms of Python a call), and only the logger connector knows the condition."""
    return trainer._logger_connector.should_update_logs


def logging_step(trainer) -> int:
    """The step Lightning's loggers stamp on a row logged now (optimizer steps taken). Why: a
    population writes its members' metrics.csv rows itself, with the steps a single run's
    logger would write; trainer.global_step counts optimizer calls of every optimizer."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def train_batches_done(trainer) -> int:
    """Training batches completed in the current epoch, restored from a checkpoint on resume.
    Why: dlrun's preloaded train loader skips them after a mid-epoch resume; Lightning's own
    loaders are skipped by the loop, which has no public counter."""
    return trainer.fit_loop.epoch_loop.batch_progress.current.completed


def validation_progress(checkpoint: dict) -> dict:
    """The validation loop's progress counters (total / current: ready, started, processed,
    completed) inside a saved checkpoint. Why: a stop mid-validation rewrites them so the
    resumed run redoes that validation whole; the loops' checkpoint layout is undocumented."""
    return checkpoint["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]


def set_csv_writer(logger, writer) -> None:
    """Give a CSVLogger the experiment writer it would make itself, replaced by `writer`. Why:
    CSVLogger has no argument for its writer, and dlrun's writes metrics.csv atomically."""
    logger._experiment = writer


def skip_idle_batch_hooks(callback, hooks, base_class):
    """Set each per-batch hook in `hooks` that `callback` does not override to None on the
    instance. Why: Lightning's dispatcher (trainer.call._call_callback_hooks) calls every hook
    of every callback at every batch, overridden or not, under a profiler label; it skips an
    attribute that is not callable. is_overridden reads the class, so it still says False."""
    for hook in hooks:
        if getattr(type(callback), hook, None) is getattr(base_class, hook):
            setattr(callback, hook, None)
    return callback


def record_new_csv_columns(writer) -> None:
    """An ExperimentWriter's bookkeeping of columns first seen in the pending rows. Why: dlrun's
    atomic writer replaces ExperimentWriter.save, which does this first and offers no hook."""
    writer._record_new_keys()


def drop_wandb_init_argument(logger, name: str) -> None:
    """Remove an argument WandbLogger passes to wandb.init. Why: Lightning always passes
    `anonymous`, which wandb 0.19+ warns does nothing; WandbLogger keeps its init arguments
    in a private dict."""
    logger._wandb_init.pop(name, None)
