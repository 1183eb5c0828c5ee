"""A study's report from one sweep or several: the figures and the Markdown page
(dlrun.report.figures, dlrun.report.page), and the table printed after them. Written by
`dlrun report` and by the Hydra callbacks of dlrun.report.hook."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPORT_FOLDER = "report"


@dataclass(frozen=True)
class Report:
    page: Path
    figures: dict  # {title: png path}
    header: list
    rows: list
    seed_groups: list = ()  # trials that differ only in seed (dlrun.report.seed_groups)
    configurations: tuple = ((), ())  # (header, rows): the table per configuration (dlrun.report.seed_table)


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
    made = {"Curves, every run overlaid": figures.plot_curves(runs, settings.curves, out_dir / "curves.png",
                                                              group_seeds=True)}
    if settings.layers:
        made[f"{settings.layers} per layer at the start"] = figures.plot_layer_profile(
            runs, settings.layers, out_dir / "layers.png", group_seeds=True)
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
    from dlrun.report.seed_table import seed_table

    per_configuration = seed_table(sweeps, settings)[:2]
    groups = _seed_groups(sweeps)
    page = write_page(sweeps, settings, figures, out_dir)
    if groups:
        from dlrun.report.seed_groups import seed_group_lines

        with open(page, "a") as handle:
            handle.write("\n## Seed groups\n\n" + "".join(f"- {line}\n" for line in seed_group_lines(groups)))
    return Report(page, figures, header, rows, groups, per_configuration)


def _seed_groups(sweeps) -> list:
    """Each sweep's trials that differ only in seed, with mean ± sd (dlrun.report.seed_groups)."""
    from dlrun.report.seed_groups import SeedGroup, seed_groups

    groups = []
    for sweep in sweeps:
        found = seed_groups([(run.number, run.params, run.status, run.summary) for run in sweep.runs])
        if len(sweeps) > 1:  # named by sweep, as the comparison's rows are
            found = [SeedGroup(f"{sweep.name} {group.label}", group.numbers, group.stats) for group in found]
        groups += found
    return groups


def _table(header, rows):
    from rich.table import Table

    from dlrun.report.page import cell

    table = Table(show_header=True, header_style="bold")
    for column in header:
        table.add_column(column)
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    return table


def print_report(report: Report) -> None:
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(_table(report.header, report.rows))
    if report.configurations[1]:  # seed is swept: the same columns as mean ± sd per configuration
        console.print(_table(*report.configurations))
    from dlrun.report.seed_groups import seed_group_lines

    for line in seed_group_lines(report.seed_groups):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {report.page}", highlight=False, soft_wrap=True)
    for path in report.figures.values():
        console.print(f"  {path}", highlight=False, soft_wrap=True)
