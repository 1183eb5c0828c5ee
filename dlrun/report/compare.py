"""Single runs side by side (`dlrun compare`): the config keys whose values differ, each run's
final / best / test metrics from its summary.json, and one figure of their curves overlaid
(dlrun.report.figures.plot_curves over MetricHistory read from each metrics.csv, as a study
report draws them). A run folder, a sweep's trial folder, or a sweep folder (all its trials)
may be named; the figure and compare.csv go to OUT (default: a compare_* folder beside the
first run, never inside a run's own folder).
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from dlrun.base import atomic
from dlrun.base.errors import BadInput
from dlrun.loggers.table import flat_config
from dlrun.report.runs import StudyRun, format_value, read_history, run_label
from dlrun.report.settings import SUMMARY_SECTIONS, study_settings
from dlrun.training.summary import read_summary

SUMMARY_FILE = "summary.json"
FIGURE = "curves.png"
TABLE = "compare.csv"
SKIPPED = ("lr",)  # the schedule's value at the end says little side by side; its curve is in the plots


@dataclass(frozen=True)
class Comparison:
    runs: list  # StudyRun, one per run folder, labelled by what differs
    folders: list
    differing: list  # config keys (dotted) whose values differ between the runs
    fields: list  # SECTION.METRIC of summary.json shown for every run
    figure: Path | None
    table: Path


def _natural(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def run_folders(names) -> list:
    """Each named folder that is a run (it holds summary.json), or each trial folder of a sweep."""
    folders = []
    for name in names:
        folder = Path(name)
        if (folder / SUMMARY_FILE).is_file():
            folders.append(folder)
            continue
        trials = sorted((child for child in folder.iterdir() if (child / SUMMARY_FILE).is_file()), key=_natural) \
            if folder.is_dir() else []
        if not trials:
            raise BadInput(f"{folder}: not a run folder (no {SUMMARY_FILE}) nor a sweep folder with trial runs")
        folders += trials
    if len(folders) < 2:
        raise BadInput(f"{' '.join(map(str, names))}: {len(folders)} run; compare needs two or more")
    return folders


def differing_keys(configs: list) -> list:
    """The dotted keys whose values are not the same in every config (a key one lacks differs)."""
    flat = [flat_config(config) for config in configs]
    keys = list(dict.fromkeys(key for config in flat for key in config))
    missing = object()
    return [key for key in keys if len({repr(config.get(key, missing)) for config in flat}) > 1]


def _fields(summaries: list) -> list:
    names = [f"{section}.{metric}" for section in SUMMARY_SECTIONS for summary in summaries
             for metric in (summary.get(section) or {}) if metric not in SKIPPED]
    return list(dict.fromkeys(names))


def _label(folder: Path, params: dict, taken: set) -> str:
    label = run_label(params, None) or folder.name
    return f"{label} ({folder.name})" if label in taken else label


def compare(names, out_dir=None) -> Comparison:
    """Read the runs, write the overlaid curves and compare.csv; BadInput on a folder that is no run."""
    folders = run_folders(names)
    summaries = [read_summary(folder) for folder in folders]
    differing = differing_keys([summary.get("config") or {} for summary in summaries])
    runs, taken = [], set()
    for number, (folder, summary) in enumerate(zip(folders, summaries)):
        params = {key: flat_config(summary.get("config") or {}).get(key) for key in differing}
        label = _label(folder, params, taken)
        taken.add(label)
        runs.append(StudyRun(folder.parent.name, number, summary.get("status", "-"), params, summary,
                             read_history(folder), label))
    out_dir = Path(out_dir) if out_dir else default_out(folders)
    metric_names = {name for run in runs for name in run.history.metric_names()}
    from dlrun.report.figures import plot_curves

    figure = plot_curves(runs, study_settings(None, metric_names).curves, out_dir / FIGURE)
    fields = _fields(summaries)
    return Comparison(runs, folders, differing, fields, figure, write_table(runs, folders, differing, fields, out_dir))


def default_out(folders: list) -> Path:
    """compare_<first run>_<digest of the runs compared>, beside the first run."""
    digest = hashlib.sha1("\n".join(str(folder.resolve()) for folder in folders).encode()).hexdigest()[:8]
    return folders[0].resolve().parent / f"compare_{folders[0].name}_{digest}"


def table_rows(runs, folders, differing, fields) -> tuple:
    """(header, rows): one row per run, its folder, status, differing keys and metrics."""
    header = ["run", "status", *differing, *fields]
    rows = []
    for run, folder in zip(runs, folders):
        values = [(run.summary.get(section) or {}).get(metric) for section, _, metric in
                  (field.partition(".") for field in fields)]
        rows.append([str(folder), run.status, *(run.params.get(key) for key in differing), *values])
    return header, rows


def write_table(runs, folders, differing, fields, out_dir: Path) -> Path:
    header, rows = table_rows(runs, folders, differing, fields)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(out_dir / TABLE, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if value is None else value for value in row] for row in rows])
    return out_dir / TABLE


def print_comparison(comparison: Comparison) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    header, rows = table_rows(comparison.runs, comparison.folders, comparison.differing, comparison.fields)
    table = Table(show_header=True, header_style="bold")
    for column in header:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(format_value(value, 4) for value in row))
    console = Console(width=None if sys.stdout.isatty() else 200)
    differing = ", ".join(comparison.differing) or "none (the runs share one config)"
    console.print(f"{len(rows)} runs; config keys that differ: {differing}", markup=False, highlight=False, soft_wrap=True)
    console.print(table)
    console.print(f"table: {comparison.table}", markup=False, highlight=False, soft_wrap=True)
    if comparison.figure is not None:
        console.print(f"curves: {comparison.figure}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print("curves: none (no run has metrics.csv rows)", markup=False, highlight=False, soft_wrap=True)
