"""A study's runs read back from its sweep folders: each trial's parameters and status
(from the sweep's study), its summary.json, and its curves (metrics.csv as a MetricHistory,
the same object the run itself kept, so series() and best() mean what they meant there)."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from dlrun.training.summary import read_summary

METRICS_FILE = "metrics.csv"
INDEX_COLUMNS = ("step", "epoch")
# Sweep folders are named <time>_<name>: the name alone labels a sweep.
TIME_PREFIX = re.compile(r"^\d{2}-\d{2}-\d{2}_")


@dataclass(frozen=True)
class StudyRun:
    sweep: str  # the sweep's name (its folder's, without the time)
    number: int  # trial number in that sweep
    status: str
    params: dict  # the swept parameters, as the sweep chose them
    summary: dict  # summary.json ({} when the trial left none)
    history: object  # dlrun.training.history.MetricHistory from metrics.csv
    label: str = ""


@dataclass(frozen=True)
class Sweep:
    folder: Path
    name: str
    record: dict  # how the sweep describes itself (objective, search space, fixed overrides)
    direction: str  # minimize or maximize
    runs: list = field(default_factory=list)


def read_history(run_dir):
    """A run folder's metrics.csv (Lightning's CSV logger: one sparse row per logging call) as a MetricHistory."""
    from dlrun.training.history import MetricHistory

    history = MetricHistory(every_n_steps=1)
    path = Path(run_dir) / METRICS_FILE if run_dir else None
    if path is None or not path.is_file():
        return history
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            values = {name: float(text) for name, text in row.items() if name not in INDEX_COLUMNS and text}
            values = {name: value for name, value in values.items() if math.isfinite(value)}
            if values and row.get("step"):
                history.rows.append({"step": int(float(row["step"])), "epoch": int(float(row.get("epoch") or 0)),
                                     **values})
    return history


def sweep_name(folder: Path) -> str:
    return TIME_PREFIX.sub("", Path(folder).resolve().name)


def short_key(key: str) -> str:
    """`model.activation` -> `activation`; a group choice (`init`) stays as it is."""
    return key.lstrip("+~").rsplit(".", 1)[-1]


def format_value(value, digits: int = 3) -> str:
    if isinstance(value, bool):  # as an override writes it
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return "-" if value is None else str(value)


def run_label(params: dict, sweep: str | None) -> str:
    text = " ".join(f"{short_key(key)}={format_value(value)}" for key, value in params.items())
    return ": ".join(part for part in (sweep, text) if part)


def _run(row, name: str, labelled_sweep: bool) -> StudyRun:
    summary = {}
    if row.run_dir and (Path(row.run_dir) / "summary.json").is_file():
        summary = read_summary(row.run_dir)
    return StudyRun(name, row.number, row.status, dict(row.params), summary, read_history(row.run_dir),
                    run_label(row.params, name if labelled_sweep else None))


def load_sweeps(folders) -> list:
    """Every sweep folder's trials, in trial order; NotASweep for a folder without a study."""
    from optuna.study import StudyDirection

    from dlrun.sweeps import study as studies
    from dlrun.sweeps.trials import trial_rows

    sweeps = []
    for folder in folders:
        study = studies.load(folder)
        rows = sorted(trial_rows(study), key=lambda row: row.number)
        # the first objective's (a multi-objective study has no single direction)
        direction = "maximize" if study.directions[0] == StudyDirection.MAXIMIZE else "minimize"
        name = sweep_name(folder)
        runs = [_run(row, name, labelled_sweep=len(folders) > 1) for row in rows]
        sweeps.append(Sweep(Path(folder), name, studies.sweep_record(study), direction, runs))
    return sweeps
