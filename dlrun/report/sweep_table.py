"""A sweep at a glance, from its study: the trials sorted by the objective (a table and
summary.csv), the plots, and the exact command that reproduces the best trial (the rows and
commands come from dlrun.sweeps.trials).

Printed and written at the end of every sweep and by `dlrun summary SWEEP_DIR`.
"""

from __future__ import annotations

import csv
import fcntl
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from dlrun.base import atomic
from dlrun.recipe.metrics import objectives
from dlrun.report.runs import format_value
from dlrun.report.seed_groups import seed_group_columns, seed_group_lines, seed_groups, trials_of_rows
from dlrun.report.sweep_plots import write_sweep_plots
from dlrun.sweeps import study as studies
from dlrun.sweeps.trials import TrialRow, continue_command, reproduce_command, trial_distributions, trial_rows

SUMMARY_CSV = "summary.csv"
# Held while summary.csv and plots/ are (re)written: each worker writes them from the study
# it reads under the lock, so the last writer wrote everything every worker had told.
SUMMARY_LOCK = ".summary.lock"


@dataclass(frozen=True)
class SweepReport:
    rows: list
    best: TrialRow | None
    csv_path: Path
    plots: list
    best_command: str | None
    seed_groups: list = ()  # trials that differ only in seed (dlrun.report.seed_groups)


def _format(value) -> str:
    return format_value(value, 4)


def _objective_cells(row, names: list) -> list:
    """The row's value of each objective, then (several objectives) whether it is on the Pareto front."""
    values = list(row.values) if row.values else [row.value] + [None] * (len(names) - 1)
    return values + ([row.pareto] if len(names) > 1 else [])


def write_csv(rows, path: Path, objective, groups=()) -> Path:
    """`objective`: the metric name, or the list of them (adds a `pareto` column: true on the front);
    `groups`: the seed groups (mean ± sd columns)."""
    names = objectives(objective)
    keys = list(dict.fromkeys(key for row in rows for key in row.params))
    group_header, group_cells = seed_group_columns(list(groups))
    with atomic.replacing(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "status", *names, *(["pareto"] if len(names) > 1 else []), *keys, "wall_time_s",
                         "run_dir", "error", *group_header])
        for row in rows:
            cells = ["" if cell is None else str(cell).lower() if isinstance(cell, bool) else cell
                     for cell in _objective_cells(row, names)]
            writer.writerow([row.number, row.status, *cells,
                             *(row.params.get(key, "") for key in keys), row.wall_time_s or "", row.run_dir or "",
                             row.error or "", *group_cells.get(row.number, [""] * len(group_header))])
    return path


def sweep_table(rows, objective):
    from rich.table import Table

    names = objectives(objective)
    keys = list(dict.fromkeys(key for row in rows for key in row.params))
    table = Table(show_header=True, header_style="bold")
    for column in ("trial", "status", *names, *(["pareto"] if len(names) > 1 else []), *keys, "wall time", "note"):
        table.add_column(column)
    styles = {"completed": "green", "pruned": "yellow", "failed": "red", "diverged": "red", "interrupted": "red"}
    for row in rows:
        cells = [("*" if cell else "") if isinstance(cell, bool) else _format(cell)
                 for cell in _objective_cells(row, names)]
        table.add_row(str(row.number), f"[{styles.get(row.status, 'white')}]{row.status}[/]", *cells,
                      *(escape(_format(row.params.get(key))) for key in keys),
                      f"{row.wall_time_s:.1f} s" if row.wall_time_s is not None else "-", escape((row.error or "")[:80]))
    return table


def _offline_wandb(sweep_dir: Path) -> bool:
    return any(Path(sweep_dir).glob("*/wandb/offline-run-*"))


def _counts(rows) -> str:
    counts = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def _print_report(report: SweepReport, record: dict, sweep_dir: Path, console) -> None:
    objective = record.get("objective", "objective")
    # the heading is printed on its own: as a table title it would wrap to the table's width
    count = len(report.rows)
    heading = f"sweep {sweep_dir}: {count} trial{'' if count == 1 else 's'} ({_counts(report.rows)})"
    console.print(heading, markup=False, highlight=False, soft_wrap=True)
    names = record.get("objectives") or [objective]
    console.print(sweep_table(report.rows, names))
    front = [row.number for row in report.rows if row.pareto]
    if len(names) > 1:
        console.print(f"Pareto front over {', '.join(names)} (pareto *): trial{'' if len(front) == 1 else 's'} "
                      f"{', '.join(map(str, sorted(front))) or '-'}; below, the best by {objective}", highlight=False)
    for line in seed_group_lines(report.seed_groups):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.best is not None:
        console.print(f"best: trial {report.best.number}, {objective}={report.best.value:.6g}; reproduce it with:",
                      highlight=False)
        console.print(f"  {report.best_command}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"summary: {report.csv_path}   plots: {sweep_dir / 'plots'}", markup=False, highlight=False, soft_wrap=True)
    if record.get("n_trials"):  # a grid is done when every combination ran
        console.print(f"more trials: {continue_command(record, sweep_dir, len(report.rows) * 2)}", markup=False, highlight=False,
                      soft_wrap=True)
    console.print(f"narrower search around the best: dlrun refine {sweep_dir.resolve()}", markup=False,
                  highlight=False, soft_wrap=True)
    if _offline_wandb(sweep_dir):
        console.print(f"W&B runs are offline; upload them with: wandb sync {sweep_dir}/*/wandb/offline-run-*",
                      highlight=False, soft_wrap=True)


@contextmanager
def _summary_lock(sweep_dir: Path):
    with open(sweep_dir / SUMMARY_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def summarize(sweep_dir, study=None, show: bool = True, plots: bool = True) -> SweepReport:
    """Write summary.csv (and plots/) in the sweep folder, print the table; return the report."""
    from optuna.study import StudyDirection
    from rich.console import Console

    sweep_dir = Path(sweep_dir)
    study = study if study is not None else studies.load(sweep_dir)
    record = studies.sweep_record(study)
    objective = record.get("objective", "objective")
    names = record.get("objectives") or [objective]
    with _summary_lock(sweep_dir):
        rows = trial_rows(study)
        best = next((row for row in rows if row.status == "completed"), None)
        drawn = write_sweep_plots(rows, trial_distributions(study), names,
                                  [d == StudyDirection.MAXIMIZE for d in study.directions], sweep_dir) if plots else []
        groups = seed_groups(trials_of_rows(rows))
        report = SweepReport(rows, best, write_csv(rows, sweep_dir / SUMMARY_CSV, names, groups), drawn,
                             reproduce_command(best, record) if best else None, groups)
    if show:
        _print_report(report, record, sweep_dir, Console(width=None if sys.stdout.isatty() else 200))
    return report
