"""`dlrun report SWEEP_DIR... [out=DIR]`: a study's figures and Markdown page, from one
sweep or several compared (grid vs random search). Written to DIR (default:
FIRST_SWEEP_DIR/report/). Exit 2 on a bad command, a folder that is no sweep, or a bad
`study:` block."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from dlrun.base.errors import BadInput, refusing_bad_input

USAGE = "usage: dlrun report SWEEP_DIR [SWEEP_DIR...] [out=DIR]   (folders of `dlrun -m` sweeps)"
REPORT_FOLDER = "report"


@dataclass(frozen=True)
class Report:
    page: Path
    figures: dict  # {title: png path}
    header: list
    rows: list


def _settings(sweeps):
    from dlrun.report.settings import study_settings

    runs = [run for sweep in sweeps for run in sweep.runs]
    block = next((run.summary["config"].get("study") for run in runs
                  if (run.summary.get("config") or {}).get("study")), None)
    metric_names = {name for run in runs for name in run.history.metric_names()}
    return study_settings(block, metric_names)


def _figures(sweeps, settings, out_dir: Path) -> dict:
    from dlrun.report import figures

    runs = [run for sweep in sweeps for run in sweep.runs]
    made = {"Curves, every run overlaid": figures.plot_curves(runs, settings.curves, out_dir / "curves.png")}
    if settings.layers:
        made[f"{settings.layers} per layer at the start"] = figures.plot_layer_profile(
            runs, settings.layers, out_dir / "layers.png")
    if settings.x:
        made[f"Against {settings.x}"] = figures.plot_versus(runs, settings.x, settings.versus, out_dir / "versus.png",
                                                                settings.by)
    if len(sweeps) > 1:
        made["Best so far, per sweep"] = figures.plot_best_so_far(sweeps, out_dir / "best_so_far.png")
    return {title: path for title, path in made.items() if path is not None}


def write_report(folders, out_dir=None) -> Report:
    """Read the sweeps, write the figures and report.md; NotASweep / ReportError on bad input."""
    from dlrun.report.page import study_table, write_page
    from dlrun.report.runs import load_sweeps
    from dlrun.report.settings import ReportError

    sweeps = load_sweeps([Path(folder) for folder in folders])
    if not any(sweep.runs for sweep in sweeps):
        raise ReportError(f"{', '.join(map(str, folders))}: no trials yet")
    settings = _settings(sweeps)
    out_dir = Path(out_dir) if out_dir else Path(folders[0]) / REPORT_FOLDER
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = _figures(sweeps, settings, out_dir)
    header, rows = study_table(sweeps, settings)
    return Report(write_page(sweeps, settings, figures, out_dir), figures, header, rows)


def _arguments(args) -> tuple:
    folders, out = [], None
    for arg in args:
        if arg.startswith("out="):
            out = arg.split("=", 1)[1] or None
        elif "=" in arg or arg.startswith("-"):
            raise BadInput(f"{arg}: unknown argument; {USAGE}")
        else:
            folders.append(arg)
    if not folders:
        raise BadInput(USAGE)
    return folders, out


def print_report(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    from dlrun.report.page import cell

    table = Table(show_header=True, header_style="bold")
    for column in report.header:
        table.add_column(column)
    for row in report.rows:
        table.add_row(*(cell(value) for value in row))
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    console.print(f"report: {report.page}", highlight=False, soft_wrap=True)
    for path in report.figures.values():
        console.print(f"  {path}", highlight=False, soft_wrap=True)


@refusing_bad_input("report")
def report_main(args) -> int:
    folders, out = _arguments(args)
    print_report(write_report(folders, out))
    return 0
