"""One run from a resolved config: data -> model -> init -> TaskModule -> Trainer -> fit/test
-> summary.json + plots. Whatever happens, the summary is written."""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

from omegaconf import DictConfig, OmegaConf

from dlrun.summary import new_summary, write_summary

log = logging.getLogger("dlrun")


class RunFailed(RuntimeError):
    """The run ended without completing; its summary.json says why."""


def build_components(cfg: DictConfig):
    """(datamodule, task module) for a config: the run path up to the Trainer."""
    from dlrun.data.module import DataModule
    from dlrun.init import apply_init
    from dlrun.models.registry import build_model
    from dlrun.task import TaskModule

    datamodule = DataModule(cfg.data, cfg.seed)
    spec = datamodule.spec
    model = apply_init(build_model(cfg.model, spec), cfg.init)
    task = TaskModule(model, spec, cfg.optim, cfg.schedule, label_smoothing=cfg.get("label_smoothing", 0.0))
    return datamodule, task


def _checkpoint_paths(trainer):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from dlrun.trainer import find_callback

    checkpoint = find_callback(trainer, ModelCheckpoint)
    if checkpoint is None:
        return None, None
    return checkpoint.best_model_path or None, checkpoint.last_model_path or None


def _fit_and_test(cfg, run_dir: Path, summary: dict, holder: SimpleNamespace):
    import lightning as L

    from dlrun.trainer import build_trainer

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, task = build_components(cfg)
    summary["spec"] = datamodule.spec.to_dict()
    trainer = build_trainer(cfg, run_dir)
    holder.trainer = trainer
    trainer.fit(task, datamodule=datamodule)
    summary["final"] = _final_metrics(trainer)  # before test() replaces callback_metrics
    if trainer.interrupted:
        summary["status"] = "interrupted"
        return
    best, _ = _checkpoint_paths(trainer)
    if cfg.trainer.test_after_fit:
        results = trainer.test(task, datamodule=datamodule, ckpt_path=best or None, verbose=False)
        summary["test"] = dict(results[0]) if results else {}
    summary["status"] = "completed"


def _final_metrics(trainer) -> dict:
    return {name: float(value) for name, value in trainer.callback_metrics.items()
            if not name.startswith("test/") and not name.endswith("_epoch")}


def _collect(summary: dict, run_dir: Path, trainer):
    """Fill metrics, checkpoints and steps from the trainer; write plots."""
    from dlrun.history import MetricHistory
    from dlrun.plots import plot_curves
    from dlrun.trainer import find_callback

    if trainer is None:
        return
    summary["global_step"], summary["epochs"] = trainer.global_step, trainer.current_epoch
    summary["best_checkpoint"], summary["last_checkpoint"] = _checkpoint_paths(trainer)
    history = find_callback(trainer, MetricHistory)
    summary["final"] = summary["final"] or _final_metrics(trainer)
    for name in history.metric_names():
        if name.startswith("val/"):
            summary["best"][name], _ = history.best(name)
    objective = summary["objective"]["metric"]
    summary["objective"]["value"], summary["objective"]["step"] = history.best(objective)
    if trainer.is_global_zero:
        plot_curves(history, run_dir)


def execute(cfg: DictConfig, run_dir: Path) -> dict:
    """Train and test one config in `run_dir`; return the summary (also in summary.json)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = OmegaConf.to_container(cfg, resolve=True)
    summary = new_summary(cfg.name, run_dir, config, cfg.objective)
    started, holder = time.time(), SimpleNamespace(trainer=None)
    try:
        _fit_and_test(cfg, run_dir, summary, holder)
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl+C into SystemExit(1)
        summary["status"] = "interrupted"
    except Exception as error:  # the summary must say what happened, whatever it was
        summary["status"] = "failed"
        summary["error"] = "".join(traceback.format_exception(error))
        log.error("run failed: %s: %s", type(error).__name__, error)
    finally:
        try:
            _collect(summary, run_dir, holder.trainer)
        except Exception as error:
            log.error("could not collect results: %s", error)
        summary["wall_time_s"] = time.time() - started
        write_summary(summary, run_dir)
    return summary
