"""The study's table per configuration: the trials that differ only in `seed` (one
configuration, several seeds) become one row, each of the study's table columns shown as
mean ± sd over them, and a rule that says when two configurations really differ.

The rule (stated in report.md under the table): configurations A and B differ when the gap
between their means exceeds the sum of their standard deviations, |mean A - mean B| > sd A + sd B.
One seed (no sd) never separates anything: a claim resting on it is not reproduced."""

from __future__ import annotations

import math

from dlrun.report.runs import format_value
from dlrun.report.seed_groups import SEED, mean_sd, mean_sd_n
from dlrun.report.settings import field_value

RULE = ("A gap counts only when it exceeds the spread: two configurations differ in a column when "
        "|mean A - mean B| > sd A + sd B (sd over seeds, n - 1 in the denominator); one seed has no sd and "
        "separates nothing.")


def _number(value):
    """A finite float, else None (missing, text, bool, nan, inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def stats(values: list) -> tuple:
    """(mean, sd or None, n) of the finite numbers in values; (None, None, 0) when there are none."""
    numbers = [number for number in map(_number, values) if number is not None]
    return mean_sd_n(numbers) if numbers else (None, None, 0)


def separated(a: tuple, b: tuple) -> bool:
    """The rule above, for two (mean, sd, n): False when either has no sd."""
    (mean_a, sd_a, _), (mean_b, sd_b, _) = a, b
    if mean_a is None or mean_b is None or sd_a is None or sd_b is None:
        return False
    return abs(mean_a - mean_b) > sd_a + sd_b


def _statuses(runs) -> str:
    counts: dict = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def configurations(sweeps) -> list:
    """[(sweep, {swept key but seed: value}, [run])]: each sweep's runs grouped by every swept
    value but seed, in order of their first run; empty when no sweep varies seed."""
    if not any(SEED in run.params for sweep in sweeps for run in sweep.runs):
        return []
    found: dict = {}
    for sweep in sweeps:
        for run in sweep.runs:
            others = {key: value for key, value in run.params.items() if key != SEED}
            found.setdefault((sweep.name, repr(sorted(others.items(), key=str))), (sweep, others, []))[2].append(run)
    return list(found.values())


def cell_of(stat: tuple, trials: int) -> str:
    """`0.95 ± 0.01`, with `(n=2)` when fewer trials than the configuration's have the value."""
    mean, sd, n = stat
    if mean is None:
        return "-"
    return mean_sd(mean, sd) + (f" (n={n})" if n < trials else "")


def seed_table(sweeps, settings) -> tuple:
    """(header, rows of text, {(row index, column): (mean, sd, n)}); ([], [], {}) when seed is not swept."""
    groups = configurations(sweeps)
    if not groups:
        return [], [], {}
    multi = len(sweeps) > 1
    keys = list(dict.fromkeys(key for _, others, _ in groups for key in others))
    header = (["sweep"] if multi else []) + [*keys, "n", "trials", "status", *settings.table]
    rows, numbers = [], {}
    for index, (sweep, others, runs) in enumerate(groups):
        row = ([sweep.name] if multi else []) + [format_value(others.get(key), 4) for key in keys]
        row += [str(len(runs)), " ".join(str(run.number) for run in runs), _statuses(runs)]
        for column in settings.table:
            stat = stats([field_value(run.summary, run.history, column) for run in runs])
            numbers[(index, column)] = stat
            row.append(cell_of(stat, len(runs)))
        rows.append(row)
    return header, rows, numbers


def seed_table_lines(sweeps, settings) -> list:
    """report.md's section: the table, then the rule; no lines when seed is not swept."""
    header, rows, _ = seed_table(sweeps, settings)
    if not rows:
        return []
    lines = ["## Per configuration: mean ± sd over seeds", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + ["", RULE, ""]
