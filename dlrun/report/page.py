"""The study's table (one row per run: swept values, status, the chosen fields) and the
Markdown page that shows it with the figures."""

from __future__ import annotations

from pathlib import Path

from dlrun.report.figures import first_sampled
from dlrun.report.runs import format_value
from dlrun.report.seed_table import seed_table_lines
from dlrun.report.settings import field_value
from dlrun.sweeps.trials import sweep_command

DIGITS = 4  # significant digits in the table


def cell(value) -> str:
    return format_value(value, DIGITS)


def swept_keys(sweeps) -> list:
    return list(dict.fromkeys(key for sweep in sweeps for run in sweep.runs for key in run.params))


def _layers_column(settings) -> str:
    return f"{settings.layers} first / last layer at start"


def study_table(sweeps, settings) -> tuple:
    """(header, rows of raw values): what report.md shows, before formatting."""
    keys = swept_keys(sweeps)
    multi = len(sweeps) > 1
    header = (["sweep"] if multi else []) + ["trial", *keys, "status", *settings.table]
    if settings.layers:
        header.append(_layers_column(settings))
    rows = []
    for sweep in sweeps:
        for run in sweep.runs:
            row = ([sweep.name] if multi else []) + [run.number, *(run.params.get(key) for key in keys), run.status]
            row += [field_value(run.summary, run.history, name) for name in settings.table]
            if settings.layers:
                _, layers = first_sampled(run.history, settings.layers)
                values = list(layers.values())
                row.append(f"{cell(values[0])} / {cell(values[-1])}" if values else None)
            rows.append(row)
    return header, rows


def markdown_table(header, rows) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def best_per_sweep(sweeps) -> list:
    """Markdown lines: each sweep's best completed trial (several sweeps compared)."""
    lines = ["| sweep | trials | completed | best objective | its parameters |", "|---|---|---|---|---|"]
    for sweep in sweeps:
        pick = max if sweep.direction == "maximize" else min
        scored = [(field_value(run.summary, run.history, "objective"), run) for run in sweep.runs
                  if run.status == "completed"]
        scored = [(value, run) for value, run in scored if value is not None]
        completed = sum(run.status == "completed" for run in sweep.runs)
        if scored:
            value, run = pick(scored, key=lambda pair: pair[0])
            params = " ".join(f"{key}={cell(item)}" for key, item in run.params.items())
            lines.append(f"| {sweep.name} | {len(sweep.runs)} | {completed} | {cell(value)} | {params} |")
        else:
            lines.append(f"| {sweep.name} | {len(sweep.runs)} | {completed} | - | - |")
    return lines


def write_page(sweeps, settings, figures: dict, out_dir: Path) -> Path:
    """report.md in out_dir; `figures` is {title: png path} (paths in out_dir)."""
    names = " + ".join(dict.fromkeys(sweep.name for sweep in sweeps))
    objective = sweeps[0].record.get("objective", "objective")
    lines = [f"# Study: {names}", ""]
    if settings.claim:
        lines += [f"**Claim.** {settings.claim}", ""]
    lines += ["**Ran with**", ""]
    lines += [f"- `{sweep_command(sweep.record)}` -> `{sweep.folder}`" for sweep in sweeps]
    lines += ["", f"Objective: `{objective}` ({sweeps[0].direction}).", "", "## Runs", ""]
    lines += markdown_table(*study_table(sweeps, settings))
    lines += ["", *seed_table_lines(sweeps, settings)]  # one row per configuration when seed is swept
    if len(sweeps) > 1:
        lines += ["", "## Best per sweep", "", *best_per_sweep(sweeps)]
    lines += ["", "## Figures", ""]
    for title, path in figures.items():
        lines += [f"### {title}", "", f"![{title}]({Path(path).name})", ""]
    page = Path(out_dir) / "report.md"
    page.write_text("\n".join(lines) + "\n")
    return page
