"""The sweep loop: ask the study for a batch of trials, hand the batch to a launcher, tell
the study how each trial ended; stop at the planned count or when too many trials fail.

The launcher is a function, `launch([(trial number, overrides)]) -> [Outcome]`, so this
loop knows nothing about Hydra (the sweeper plugin supplies it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from dlrun.summary import read_summary

log = logging.getLogger("dlrun.sweep")

# Statuses that count against hydra.sweeper.max_failure_rate: errors. A diverged or pruned
# trial is a result about its parameters, not a broken sweep.
ERROR_STATUSES = ("failed",)
INTERRUPTED = "interrupted"


class SweepAborted(RuntimeError):
    """Too many trials failed with an error; str() says how many and the last error."""


@dataclass(frozen=True)
class Outcome:
    status: str  # a summary.json status: completed, failed, pruned, diverged, interrupted
    value: float | None = None
    error: str | None = None
    run_dir: str | None = None
    wall_time_s: float | None = None


def headline(text) -> str | None:
    """The line that names an error: a traceback's last unindented line (`Type: message`)."""
    lines = [line for line in str(text).rstrip().splitlines() if line.strip()] if text else []
    unindented = [line for line in lines if not line[0].isspace()]
    return (unindented or lines or [None])[-1]


def outcome_from_run(run_dir, value=None, exception=None) -> Outcome:
    """How a launched trial ended: its summary.json where it wrote one, else what the job raised."""
    try:
        summary = read_summary(run_dir) if run_dir else {}
    except (OSError, ValueError):  # no summary.json (the job died first), or a half-written one
        summary = {}
    status = summary.get("status")
    if exception is None and status in (None, "completed"):
        value = value if value is not None else (summary.get("objective") or {}).get("value")
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        return Outcome("completed" if finite else "failed", float(value) if finite else None,
                       None if finite else "the run gave no finite value of the objective metric",
                       str(run_dir) if run_dir else None, summary.get("wall_time_s"))
    if status in (None, "running", "completed"):
        status = "failed"
    return Outcome(status, None, headline(summary.get("error")) or headline(exception) or status,
                   str(run_dir) if run_dir else None, summary.get("wall_time_s"))


def _params_key(params: dict) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in params.items()))


def counted_trials(study) -> list:
    """Finished trials that count toward n_trials (not those a stopped sweep abandoned)."""
    from optuna.trial import TrialState

    return [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                                          TrialState.FAIL))
            if trial.user_attrs.get("status") != INTERRUPTED]


def close_abandoned(study) -> int:
    """Trials left running by a sweep that was stopped: failed, marked interrupted, not counted."""
    from optuna.trial import Trial, TrialState

    abandoned = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for frozen in abandoned:
        trial = Trial(study, frozen._trial_id)  # the id is how Optuna addresses a trial it did not ask here
        trial.set_user_attr("status", INTERRUPTED)
        study.tell(frozen.number, state=TrialState.FAIL)
    return len(abandoned)


def _ask_batch(study, space, plan) -> list:
    done = counted_trials(study)
    room = plan.n_jobs if plan.n_trials is None else min(plan.n_jobs, plan.n_trials - len(done))
    if room <= 0:
        return []
    if plan.grid:
        seen = {_params_key(trial.params) for trial in done}
        todo = [combination for combination in space.grid() if _params_key(combination) not in seen][:room]
        for combination in todo:
            study.enqueue_trial(combination, skip_if_exists=False)
        room = len(todo)
    return [study.ask(space.distributions()) for _ in range(room)]


def _tell(study, trial, outcome: Outcome, overrides: list) -> None:
    from optuna.trial import TrialState

    attributes = {"status": outcome.status, "overrides": overrides, "error": outcome.error,
                  "run_dir": outcome.run_dir, "wall_time_s": outcome.wall_time_s}
    for key, value in attributes.items():
        if value is not None:
            trial.set_user_attr(key, value)
    if outcome.status == "completed":
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=TrialState.PRUNED if outcome.status == "pruned" else TrialState.FAIL)


def _check_failures(study, plan, planned: int) -> None:
    errors = [trial for trial in study.get_trials(deepcopy=False) if trial.user_attrs.get("status") in ERROR_STATUSES]
    if len(errors) > plan.max_failure_rate * planned:
        last = errors[-1]
        raise SweepAborted(f"{len(errors)} of {planned} planned trials failed with an error, more than "
                           f"hydra.sweeper.max_failure_rate={plan.max_failure_rate:g}; sweep stopped. Last: trial "
                           f"{last.number}: {last.user_attrs.get('error')}")


def run_trials(study, space, plan, launch, objective: str) -> int:
    """Ask, launch and tell until the plan is done; return how many trials ran now."""
    planned = plan.n_trials if plan.n_trials is not None else len(space.grid())
    ran = 0
    while True:
        batch = _ask_batch(study, space, plan)
        if not batch:
            return ran
        jobs = [(trial.number, space.overrides(trial.params)) for trial in batch]
        outcomes = launch(jobs)
        for trial, (_, overrides), outcome in zip(batch, jobs, outcomes):
            _tell(study, trial, outcome, overrides)
            shown = f"{outcome.value:.6g}" if outcome.value is not None else "-"
            log.info("trial %d %s: %s=%s  %s%s", trial.number, outcome.status, objective, shown,
                     " ".join(overrides[len(space.fixed):]), f"  ({outcome.error})" if outcome.error else "")
        ran += len(batch)
        _check_failures(study, plan, planned)
