"""A sweep's trials read back from its study: one row per trial (how it ended, its value,
its parameters, its run folder), the distributions they were drawn from, and the command
lines that re-run the sweep or one of its trials. Read by the sweep's report
(dlrun.report.sweep_table, dlrun.report.runs) and by `dlrun refine`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from dlrun.sweeps.workers import RETRY_ATTR, STATUS_ATTR, SURPLUS
from dlrun.training.record import ConfigSources, command_line, single_run_overrides

STATE_STATUS = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "interrupted", "RUNNING": "running",
                "WAITING": "waiting"}


@dataclass(frozen=True)
class TrialRow:
    number: int
    status: str
    value: float | None
    params: dict
    wall_time_s: float | None
    run_dir: str | None
    error: str | None
    overrides: list = field(default_factory=list)
    values: tuple = ()  # every objective's value, in order (value: the first); () when not completed
    pareto: bool = False  # on the Pareto front of a multi-objective sweep: no other completed trial dominates it


def _status(frozen) -> str:
    """How the trial ended (its summary's status), or its state while it has not: a status
    recorded just before a tell that never landed (a killed worker, a cut-off journal) is not an end."""
    if frozen.state.is_finished():
        return frozen.user_attrs.get(STATUS_ATTR) or STATE_STATUS[frozen.state.name]
    return STATE_STATUS[frozen.state.name]


def _row(frozen) -> TrialRow:
    attrs = frozen.user_attrs
    wall = attrs.get("wall_time_s")
    if wall is None and frozen.datetime_start and frozen.datetime_complete:
        wall = (frozen.datetime_complete - frozen.datetime_start).total_seconds()
    error = attrs.get("error") if frozen.state.is_finished() else None
    if attrs.get(RETRY_ATTR) is not None and not error:
        error = f"retry of trial {attrs[RETRY_ATTR]}"
    params = dict(frozen.params or frozen.system_attrs.get("fixed_params") or {})
    values = tuple(frozen.values) if frozen.state.name == "COMPLETE" and frozen.values else ()
    return TrialRow(frozen.number, _status(frozen), values[0] if values else None,
                    params, wall, attrs.get("run_dir"), error, list(attrs.get("overrides", [])), values)


def _dominates(a: tuple, b: tuple) -> bool:
    """`a` at least as good as `b` in every objective and better in one (values oriented to minimize)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def mark_pareto_front(rows: list, maximize: list) -> list:
    """The rows, each completed one marked `pareto` when no other completed row dominates it."""
    oriented = {row.number: tuple(-v if up else v for v, up in zip(row.values, maximize))
                for row in rows if row.status == "completed" and row.values}
    front = {number for number, point in oriented.items()
             if not any(_dominates(other, point) for key, other in oriented.items() if key != number)}
    return [replace(row, pareto=row.number in front) for row in rows]


def trial_rows(study) -> list:
    """Completed trials best first (by the first objective), then the others (pruned, failed,
    running, ...) by number; not the surplus ones (asked past n_trials by a worker that lost
    the race, never run). With several objectives, the Pareto front is marked."""
    from optuna.study import StudyDirection

    rows = [_row(frozen) for frozen in study.get_trials(deepcopy=False) if frozen.user_attrs.get(STATUS_ATTR) != SURPLUS]
    maximizes = [direction == StudyDirection.MAXIMIZE for direction in study.directions]
    if len(maximizes) > 1:
        rows = mark_pareto_front(rows, maximizes)
    maximize = maximizes[0]
    scored = sorted((row for row in rows if row.status == "completed"), key=lambda row: row.value, reverse=maximize)
    return scored + sorted((row for row in rows if row.status != "completed"), key=lambda row: row.number)


def reproduce_command(row: TrialRow, record: dict | None = None) -> str:
    """`dlrun OVERRIDES`: the trial as a single run, ready to paste into a shell, with the
    config folders of the sweep's `record` (and `cd` to its working folder from elsewhere)."""
    return command_line(ConfigSources.from_record((record or {}).get("sources")), single_run_overrides(row.overrides))


def sweep_command(record: dict, space=None, extra=()) -> str:
    """The `dlrun -m ...` of a sweep's record: its config folders, its fixed overrides, its search
    space (or `space`, a list of KEY=SPACE overrides), Hydra's overrides, then `extra`."""
    if space is None:
        space = [f"{key}={text}" for key, text in record.get("search_space", {}).items()]
    return command_line(ConfigSources.from_record(record.get("sources")),
                        ["-m", *record.get("fixed", []), *space, *record.get("hydra_overrides", []), *extra])


def continue_command(record: dict, sweep_dir, n_trials: int) -> str:
    """`dlrun -m ...` that continues this sweep (its folder, and its database study if it has one) up
    to n_trials."""
    from dlrun.sweeps.storage import read_pointer

    pointer = read_pointer(sweep_dir)
    where = [f"hydra.sweeper.storage={pointer['storage']}", f"hydra.sweeper.study_name={pointer['study_name']}"] \
        if pointer else []
    return sweep_command(record, extra=[f"hydra.sweep.dir={Path(sweep_dir).resolve()}", *where,
                                        f"hydra.sweeper.n_trials={n_trials}"])


def trial_distributions(study) -> dict:
    """{parameter: the Optuna distribution it was drawn from}, over the study's trials."""
    found = {}
    for frozen in study.get_trials(deepcopy=False):
        for key, distribution in frozen.distributions.items():
            found.setdefault(key, distribution)
    return found
