"""Error bars over seeds: the completed trials of a sweep that differ only in `seed` form a
group, and each group's objective and test metrics are shown as mean ± standard deviation
(the sample's: n - 1 in the denominator; none for one trial) over its n trials. Read from
each trial's summary.json; shown by the sweep summary (console and summary.csv columns) and
by `dlrun report`. A sweep that does not vary `seed` has no seed groups.

    seed groups: optim.lr=0.01: val/loss 0.41 ± 0.03 (n=5), test/loss 0.4 ± 0.02, test/acc 0.9 ± 0.01
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from dlrun.report.runs import format_value

SEED = "seed"
ALL = "every trial"  # the label of the one group when seed is the only swept key
DIGITS = 4


@dataclass(frozen=True)
class SeedGroup:
    label: str  # the other swept knobs' values, `optim.lr=0.01 model.width=64`
    numbers: tuple  # its trials
    stats: dict  # {metric: (mean, sd or None, n)}: the objective first, then the test metrics


def _metrics(summary: dict) -> dict:
    """The trial's objective value and test metrics (finite numbers only)."""
    found = {}
    objective = summary.get("objective") or {}
    if objective.get("metric") and isinstance(objective.get("value"), (int, float)):
        found[objective["metric"]] = float(objective["value"])
    for name, value in sorted((summary.get("test") or {}).items()):
        if isinstance(value, (int, float)):
            found[name] = float(value)
    return {name: value for name, value in found.items() if math.isfinite(value)}


def mean_sd_n(values: list) -> tuple:
    """(mean, sd or None for one value, n) of numbers: the sample sd (n - 1 in the denominator)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None), len(values)


def seed_groups(trials: list) -> list:
    """trials: [(trial number, swept params, status, summary.json)]; the groups of completed
    trials that differ only in `seed`, in order of their first trial (none when seed is not swept)."""
    if not any(SEED in params for _, params, _, _ in trials):
        return []
    groups: dict = {}
    for number, params, status, summary in trials:
        if status != "completed" or SEED not in params:
            continue
        others = tuple((key, value) for key, value in params.items() if key != SEED)
        groups.setdefault(repr(others), (others, []))[1].append((number, _metrics(summary)))
    made = []
    for others, members in sorted(groups.values(), key=lambda group: min(number for number, _ in group[1])):
        names = list(dict.fromkeys(name for _, metrics in members for name in metrics))
        stats = {name: mean_sd_n([metrics[name] for _, metrics in members if name in metrics]) for name in names}
        label = " ".join(f"{key}={format_value(value, DIGITS)}" for key, value in others) or ALL
        made.append(SeedGroup(label, tuple(sorted(number for number, _ in members)), stats))
    return made


def mean_sd(mean: float, sd) -> str:
    return f"{mean:.{DIGITS}g} ± {sd:.{DIGITS}g}" if sd is not None else f"{mean:.{DIGITS}g} ± -"


def seed_group_lines(groups: list) -> list:
    """One line per group: `seed groups: optim.lr=0.01: val/loss 0.41 ± 0.03 (n=5), test/loss ...`."""
    lines = []
    for group in groups:
        parts = [f"{name} {mean_sd(mean, sd)}" + (f" (n={n})" if index == 0 else "")
                 for index, (name, (mean, sd, n)) in enumerate(group.stats.items())]
        lines.append(f"seed groups: {group.label}: {', '.join(parts) or 'no results'}")
    return lines


def seed_group_columns(groups: list) -> tuple:
    """(summary.csv's extra header, {trial number: its group's cells}): the group's label, then
    each metric's mean and sd, and n; a trial in no group gets empty cells."""
    names = list(dict.fromkeys(name for group in groups for name in group.stats))
    if not groups:
        return [], {}
    header = ["seed_group", *(f"{name} {what}" for name in names for what in ("mean", "sd")), "seed_n"]
    cells = {}
    for group in groups:
        row = [group.label]
        for name in names:
            mean, sd, _ = group.stats.get(name, (None, None, 0))
            row += ["" if mean is None else mean, "" if sd is None else sd]
        row.append(len(group.numbers))
        cells.update({number: row for number in group.numbers})
    return header, cells


def trials_of_rows(rows) -> list:
    """The sweep table's rows (dlrun.sweeps.trials.TrialRow) as seed_groups reads them (their
    summary.json read only when the sweep varies seed)."""
    from dlrun.training.summary import read_summary

    trials = []
    if not any(SEED in row.params for row in rows):
        return trials
    for row in rows:
        folder = Path(row.run_dir) if row.run_dir else None
        summary = read_summary(folder) if folder is not None and (folder / "summary.json").is_file() else {}
        trials.append((row.number, row.params, row.status, summary))
    return trials
