"""A sweep's trials read back from its study: one row per trial (how it ended, its value,
its parameters, its run folder), the distributions they were drawn from, and the command
lines that re-run the sweep or one of its trials. Read by the sweep's report
(dlrun.report.sweep_table, dlrun.report.runs) and by `dlrun refine`."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    return TrialRow(frozen.number, _status(frozen), frozen.value if frozen.state.name == "COMPLETE" else None,
                    params, wall, attrs.get("run_dir"), error, list(attrs.get("overrides", [])))


def trial_rows(study) -> list:
    """Completed trials best first, then the others (pruned, failed, running, ...) by number;
    not the surplus ones (asked past n_trials by a worker that lost the race, never run)."""
    from optuna.study import StudyDirection

    rows = [_row(frozen) for frozen in study.get_trials(deepcopy=False) if frozen.user_attrs.get(STATUS_ATTR) != SURPLUS]
    maximize = study.direction == StudyDirection.MAXIMIZE
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
