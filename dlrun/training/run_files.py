"""A run folder's files, written here for a single run and for a population member alike, so a
file added to (or changed in) a run is written once: summary.json from the run's first second
to its end, its results from the run's MetricHistory, metrics.csv rows, checkpoints in a single
run's layout (written by dlrun.training.checkpoint_io), and the run's tracker runs (W&B,
MLflow, TensorBoard).

While a single run trains, Lightning writes its metrics.csv (CSVLogger), its checkpoints
(ModelCheckpoint, dlrun.callbacks.resumable) and its tracker runs live; a population member's
are made here from what the population recorded for it, in the same layout.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from dlrun.recipe.metrics import objectives
from dlrun.recipe.transfer import TASK_MODEL_PREFIX
from dlrun.training.metrics_file import METRICS_FILE, write_metric_rows
from dlrun.training.summary import new_summary, record_objectives, write_summary


def start_summary(config: dict, run_dir: Path, more: dict | None = None, write: bool = True) -> dict:
    """The run's summary at its start (status running, with `more` fields), written at once
    unless `write` is False (a rank other than zero): a run killed without a word still leaves
    a trace."""
    summary = new_summary(config["name"], run_dir, config, objectives(config["objective"]))
    summary.update(more or {})
    if write:
        write_summary(summary, run_dir)
    return summary


def record_results(summary: dict, history) -> None:
    """The best of every validation metric and the objective's best value and step, from the
    run's MetricHistory (dlrun.training.history): what a sweep tells and a report shows."""
    for name in history.metric_names():
        if name.startswith("val/"):
            summary["best"][name], _ = history.best(name)
    objective = summary["objective"]["metric"]
    summary["objective"]["value"], summary["objective"]["step"] = history.best(objective)


def record_end(summary: dict, wall_time_s: float) -> None:
    """The run's wall time and every objective's final value (before the trackers close: they keep them)."""
    summary["wall_time_s"] = wall_time_s
    record_objectives(summary)


def end_summary(summary: dict, run_dir: Path) -> None:
    """The final summary.json. A full disk does not end in a traceback: the previous
    summary.json (status running) stays, and the log says why."""
    import logging

    from dlrun.base.atomic import OutOfSpace

    try:
        write_summary(summary, run_dir)
    except OutOfSpace as error:
        summary["status"], summary["error"] = "failed", f"out of disk space in {run_dir}: {error}"
        logging.getLogger("dlrun").error("%s: summary.json not updated (status %s)", error, summary["status"])


def write_rows(run_dir: Path, rows: list) -> None:
    """metrics.csv from rows of {step, epoch, metric: value}: Lightning's CSVLogger's columns."""
    write_metric_rows(Path(run_dir) / METRICS_FILE, rows)


def weights_checkpoint(weights: dict, step: int, epoch: int, config: dict, spec: dict, transform=None) -> dict:
    """A network's weights as a single run's checkpoint (dlrun eval, predict and init=checkpoint read it)."""
    import lightning

    return {"epoch": epoch, "global_step": step, "pytorch-lightning_version": lightning.__version__,
            "state_dict": {TASK_MODEL_PREFIX + name: tensor for name, tensor in weights.items()},
            "hyper_parameters": {"config": config, "spec": spec, **({"transform": transform} if transform else {})}}


def report_rows_to_trackers(config: dict, run_dir: Path, rows: list, summary: dict) -> dict:
    """The run's tracker runs made from its metric rows (the loggers a single run of `config`
    would have, closed as a single run closes them); {logger name: its summary.json entry},
    {} without trackers. metrics.csv is written by write_rows, not by a logger here."""
    from omegaconf import OmegaConf, open_dict

    from dlrun.loggers.table import build_loggers, chosen_loggers, finish_loggers

    cfg = OmegaConf.create(config)
    with open_dict(cfg):
        cfg.logger.csv = False
    if not chosen_loggers(cfg.logger):
        return {}
    loggers = build_loggers(cfg, run_dir)
    for logger in loggers:
        for row in rows:
            logger.log_metrics({name: value for name, value in row.items() if name != "step"}, step=int(row["step"]))
        logger.save()
    return finish_loggers(SimpleNamespace(loggers=loggers), summary)  # the finishers read trainer.loggers alone
