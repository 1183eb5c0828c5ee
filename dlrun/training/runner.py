"""One run from a resolved config: data -> model -> init -> TaskModule -> Trainer -> fit/test
-> summary.json (and what the caller's hooks add: plots, a sweep's pruning). Whatever
happens, the summary is written."""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from omegaconf import DictConfig, OmegaConf

from dlrun.distributed.env import in_slurm_tasks, is_global_zero
from dlrun.training.hooks import RunHooks, RunStopped
from dlrun.training.metrics_file import read_metric_rows, write_metric_rows
from dlrun.training.run_files import end_summary, record_end, record_results, start_summary
from dlrun.training.summary import parameter_count

log = logging.getLogger("dlrun")


class RunFailed(RuntimeError):
    """The run ended without completing; its summary.json says why."""


def build_components(cfg: DictConfig, initialise: bool = True):
    """(datamodule, task module) for a config: the run path up to the Trainer. Without
    `initialise` the network keeps its constructor's weights (a checkpoint replaces them)."""
    from dlrun.data.module import DataModule, data_seed
    from dlrun.recipe.init_schemes import apply_init
    from dlrun.models.zoo import build_model
    from dlrun.training.memory_check import check_memory
    from dlrun.training.task import TaskModule

    datamodule = DataModule(cfg.data, data_seed(cfg))
    spec = datamodule.spec
    check_memory(cfg, spec)  # before any weight is allocated: a model that cannot fit is a config error
    model = build_model(cfg.model, spec)
    if initialise:
        model = apply_init(model, cfg.init)
    task = TaskModule(model, spec, cfg.optim, cfg.schedule, label_smoothing=cfg.loss.label_smoothing, config=cfg,
                      transform=datamodule.input_transform.to_dict())
    return datamodule, task


def _checkpoint_paths(trainer, run_dir: Path):
    """(best, last): best as ModelCheckpoint chose it; last as dlrun.callbacks.resumable wrote it."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from dlrun.callbacks.resumable import LAST_CHECKPOINT
    from dlrun.training.trainer import find_callback

    checkpoint = find_callback(trainer, ModelCheckpoint)
    last = Path(run_dir) / "checkpoints" / LAST_CHECKPOINT
    return (checkpoint.best_model_path or None) if checkpoint else None, str(last) if last.is_file() else None


def _fit_and_test(cfg, run_dir: Path, summary: dict, holder: SimpleNamespace, resume_from, hooks: RunHooks):
    import lightning as L

    from dlrun.training.output_check import check_model_output
    from dlrun.training.trainer import build_trainer

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, task = build_components(cfg, initialise=resume_from is None)
    summary["spec"] = datamodule.spec.to_dict()
    summary["params"] = parameter_count(task)
    check_model_output(task.model, datamodule)  # before the first step: a wrong width is a config error
    trainer = build_trainer(cfg, run_dir, callback_factories=hooks.callbacks)
    holder.trainer = trainer
    # a resume restores weights, optimizer, schedule, loops, callbacks and random states;
    # weights_only: tensors and plain containers, never pickled code
    trainer.fit(task, datamodule=datamodule, ckpt_path=resume_from, weights_only=True if resume_from else None)
    summary["final"] = _final_metrics(trainer)  # before test() replaces callback_metrics
    if trainer.interrupted:
        summary["status"] = "interrupted"
        return
    best, _ = _checkpoint_paths(trainer, run_dir)
    if cfg.trainer.test_after_fit:
        results = _test(trainer, task, datamodule, best)
        summary["test"] = dict(results[0]) if results else {}
    summary["status"] = "completed"


def _checkpoint_step(path) -> int:
    import torch

    # mmap: the step without reading every tensor of a large checkpoint
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


@contextmanager
def _appending_metrics(run_dir: Path, resume_from):
    """Lightning's CSVLogger starts metrics.csv afresh in a non-empty folder; a resumed run
    adds its rows to the earlier ones instead (the columns are the union). Rows logged after
    the checkpoint's step (a run killed between two checkpoints) are dropped: the resumed
    run logs those steps again, and every step appears once."""
    path = run_dir / "metrics.csv"
    if resume_from is None or not path.is_file():
        yield
        return
    resumed_at = _checkpoint_step(resume_from)
    earlier = path.with_name("metrics.before_resume.csv")
    path.replace(earlier)
    try:
        yield
    finally:
        # a row's step counts the optimizer steps before it (Lightning's logging step):
        # rows at or past the checkpoint's step are the ones the resumed run logs again
        kept = [row for row in read_metric_rows(earlier) if _step_of(row) < resumed_at]
        write_metric_rows(path, kept + read_metric_rows(path))
        earlier.unlink()


def requeued_checkpoint(run_dir: Path):
    """The hpc checkpoint a requeued SLURM job resumes from (Lightning's hpc_ckpt_N.ckpt with the
    highest N, saved when SLURM warned the job before its time limit); None elsewhere. Lightning
    would find it itself: named here so that the run resumes as `dlrun resume` does (metrics.csv
    continued, summary.json's resumed_from)."""
    from dlrun.training.checkpoint_files import HPC_PREFIX

    if not in_slurm_tasks():
        return None
    versions = {path: path.name[len(HPC_PREFIX):-len(".ckpt")] for path in run_dir.glob(f"{HPC_PREFIX}*.ckpt")}
    numbered = [(int(version), path) for path, version in versions.items() if version.isdigit()]
    return max(numbered)[1] if numbered else None


def _step_of(row: dict) -> float:
    try:
        return float(row.get("step") or 0)
    except ValueError:
        return 0


def _test(trainer, task, datamodule, best):
    """Test the best checkpoint (or the final weights). Loading a checkpoint, Lightning also
    loads every callback's state from it, which would rewind this run's history and
    diagnostics to that checkpoint's step: the run's own states go back afterwards."""
    states = {callback.state_key: callback.state_dict() for callback in trainer.callbacks}
    try:
        return trainer.test(task, datamodule=datamodule, ckpt_path=best or None, verbose=False,
                            weights_only=True if best else None)
    finally:
        for callback in trainer.callbacks:
            callback.load_state_dict(states[callback.state_key])


def _final_metrics(trainer) -> dict:
    return {name: float(value) for name, value in trainer.callback_metrics.items()
            if not name.startswith("test/") and not name.endswith("_epoch")}


def _collect(summary: dict, run_dir: Path, trainer, at_end=()):
    """Fill metrics, checkpoints and steps from the trainer; then the caller's `at_end` hooks (plots)."""
    from dlrun.training.history import MetricHistory
    from dlrun.training.trainer import find_callback

    if trainer is None:
        return
    summary["global_step"], summary["epochs"] = trainer.global_step, trainer.current_epoch
    summary["best_checkpoint"], summary["last_checkpoint"] = _checkpoint_paths(trainer, run_dir)
    summary["final"] = summary["final"] or _final_metrics(trainer)
    record_results(summary, find_callback(trainer, MetricHistory))
    if trainer.is_global_zero:
        for hook in at_end:
            hook(trainer, run_dir)


def execute(cfg: DictConfig, run_dir: Path, resume_from=None, hooks: RunHooks = RunHooks()) -> dict:
    """Train and test one config in `run_dir` (from the checkpoint `resume_from`, if given),
    with what the caller adds (`hooks`); return the summary (also in summary.json)."""
    from dlrun.callbacks.divergence import Diverged
    from dlrun.loggers.table import earlier_tracker_runs, finish_loggers
    from dlrun.base.errors import CheckpointError, ConfigError

    logging.raiseExceptions = False  # a full disk: no traceback per log line that run.log cannot take
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    resume_from = resume_from if resume_from is not None else requeued_checkpoint(run_dir)
    # a resume keeps its tracker runs: the loggers continue the same W&B / MLflow runs
    resumed = {"resumed_from": str(resume_from), **earlier_tracker_runs(run_dir)} if resume_from is not None else {}
    summary = start_summary(OmegaConf.to_container(cfg, resolve=True), run_dir, resumed, write=is_global_zero())
    started, holder = time.time(), SimpleNamespace(trainer=None)
    try:
        with _appending_metrics(run_dir, resume_from):
            _fit_and_test(cfg, run_dir, summary, holder, resume_from, hooks)
    except (KeyboardInterrupt, SystemExit):  # SIGTERM (and a first Ctrl+C) end as SIGTERMException
        summary["status"] = "interrupted"
    except Diverged as error:
        summary["status"], summary["error"] = "diverged", str(error)
        log.error("%s", error)
    except RunStopped as error:  # a caller's callback stopped the run on purpose (a sweep's pruner)
        summary["status"], summary["error"] = error.status, str(error)
        log.info("%s", error)
    except ConfigError as error:  # bad data files found while loading (after a download): exit 2 like any config error
        summary["status"], summary["error"] = "failed", str(error)
        raise
    except CheckpointError as error:  # init=checkpoint: a file that cannot be read or does not fit: a bad input too
        summary["status"], summary["error"] = "failed", str(error)
        raise ConfigError([str(error)]) from None
    except Exception as error:  # the summary must say what happened, whatever it was
        _record_failure(summary, run_dir, error)
    finally:
        try:
            _collect(summary, run_dir, holder.trainer, hooks.at_end)
        except Exception as error:
            log.error("could not collect results: %s", _one_line(error))
        record_end(summary, time.time() - started)
        summary.update(finish_loggers(holder.trainer, summary))  # e.g. the W&B run closed, its id kept in summary.json
        if is_global_zero():  # one run folder: under DDP only rank zero writes the summary
            end_summary(summary, run_dir)
    return summary


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _record_failure(summary: dict, run_dir: Path, error: Exception) -> None:
    """`error` is one line (console, summary.json); the traceback goes to summary.json's
    `traceback` and to run.log, never to the console."""
    from dlrun.base.atomic import is_out_of_space

    summary["status"] = "failed"
    summary["traceback"] = "".join(traceback.format_exception(error))
    if is_out_of_space(error):
        summary["error"] = f"out of disk space in {run_dir}: {_one_line(error)}"
    else:
        summary["error"] = _one_line(error)
    log.error("run failed: %s (traceback in %s)", summary["error"], run_dir / "run.log")
    try:
        with open(run_dir / "run.log", "a") as handle:
            handle.write(summary["traceback"])
    except OSError:
        pass
