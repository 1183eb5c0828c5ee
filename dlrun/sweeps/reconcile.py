"""The truth after faults: the trial folders are the source of truth and the study follows
them (DESIGN: Outputs). `reconcile(study, sweep_dir)` runs on every sweep start and on
`dlrun summary SWEEP_DIR`:

- a folder that completed (summary.json `completed`, with its objective value) whose result
  never reached the study (the study says RUNNING: its worker died between the run's end and
  the tell, or the database was down) is told its recorded value, not trained again; one the
  study already closed as interrupted gives its value to the queued retry of its point (or,
  with none queued, to a trial added with its parameters);
- a folder `running` whose owner is dead (dlrun.base.ownership) is written down as
  interrupted, and its trial, when its worker is gone too, is closed as interrupted and its
  point queued again, as a dead worker's trials are (dlrun.sweeps.workers.reap).

Population members are trial folders like any other: a killed population leaves none
`running`, and the members it finished are told, not trained again.

A trial's folder is SWEEP_DIR/<trial number> (conf: hydra.sweep.subdir), or the run_dir its
tell recorded. A trial whose worker still lives is left to that worker.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

from dlrun.base.optuna_private import storage_of, trial_id
from dlrun.base.ownership import live_owner
from dlrun.sweeps.loop import outcome_from_run, tell_outcome
from dlrun.sweeps.workers import INTERRUPTED, RETRY_ATTR, STATUS_ATTR, WORKER_ATTR, WORKERS_DIR, gone_from_this_host
from dlrun.training.summary import SUMMARY_FILE, read_summary, settle_abandoned

log = logging.getLogger("dlrun.sweep")

RESULT_OF = "dlrun_result_of"  # the number of the interrupted trial whose folder's result this trial holds


@dataclass
class Reconciled:
    told: list = field(default_factory=list)  # trial numbers told their folder's result
    closed: list = field(default_factory=list)  # trial numbers closed as interrupted, their points queued again
    settled: list = field(default_factory=list)  # trial numbers whose dead run's folder now says interrupted


def trial_folder(sweep_dir, frozen) -> Path:
    recorded = frozen.user_attrs.get("run_dir")
    return Path(recorded) if recorded else Path(sweep_dir) / str(frozen.number)


def _overrides_of(folder: Path) -> list:
    """The trial's overrides as Hydra recorded them in its folder (the reproduce command reads them)."""
    import yaml

    try:
        return list(yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or [])
    except (OSError, ValueError, yaml.YAMLError):
        return []


def _worker_gone(sweep_dir, frozen) -> bool:
    """The trial's worker no longer runs: on this host its pid is gone; elsewhere its slot in the
    shared sweep folder has no live owner. A trial no worker stamped is left to reap."""
    worker = frozen.user_attrs.get(WORKER_ATTR)
    if worker is None:
        return False
    if worker.rpartition("-")[0] == socket.gethostname():
        return gone_from_this_host(worker)
    return live_owner(Path(sweep_dir) / WORKERS_DIR / worker) is None


def settle_from_folder(study, frozen, sweep_dir, done: Reconciled | None = None) -> bool:
    """Tell a RUNNING trial how its folder says it ended (a dead run: interrupted, its point
    queued again); False when its folder has no end to tell (not started, or its run lives)."""
    done = done if done is not None else Reconciled()
    folder = trial_folder(sweep_dir, frozen)
    if not (folder / SUMMARY_FILE).is_file():
        return False
    if settle_abandoned(folder) is not None:
        done.settled.append(frozen.number)
    if read_summary(folder).get("status") == "running":
        return False  # its run still lives (a process of its own): its worker's end, not this one
    outcome = outcome_from_run(folder)
    if not tell_outcome(study, frozen, outcome, _overrides_of(folder)):
        return True  # another worker told it first
    if outcome.status == "completed":
        done.told.append(frozen.number)
        log.warning("trial %d completed in %s but its result never reached the study: told %s, not trained again",
                    frozen.number, folder, f"{outcome.value:.6g}")
    elif outcome.status == INTERRUPTED:
        done.closed.append(frozen.number)
        log.warning("trial %d: its run in %s stopped without a word: marked interrupted, its point queued again",
                    frozen.number, folder)
    return True


def _takes_the_result(study, retry, interrupted) -> bool:
    """The queued retry of an interrupted point, taken (WAITING -> RUNNING, atomically, as
    Optuna's ask takes one) and given that point's parameters; False if a worker took it first."""
    from optuna.trial import TrialState

    storage = storage_of(study)
    if not storage.set_trial_state_values(trial_id(retry), TrialState.RUNNING):
        return False
    for name, value in interrupted.params.items():
        distribution = interrupted.distributions[name]
        storage.set_trial_param(trial_id(retry), name, distribution.to_internal_repr(value), distribution)
    storage.set_trial_user_attr(trial_id(retry), RESULT_OF, interrupted.number)
    return True


def _recover_interrupted(study, frozen, trials: list, sweep_dir, done: Reconciled) -> None:
    """A trial the study closed as interrupted whose folder completed after all: its result goes
    to the queued retry of its point, or to a trial added with its parameters when none is queued."""
    import optuna

    folder = trial_folder(sweep_dir, frozen)
    outcome = outcome_from_run(folder) if (folder / SUMMARY_FILE).is_file() else None
    if outcome is None or outcome.status != "completed" or not frozen.params:
        return
    if any(other.user_attrs.get(RESULT_OF) == frozen.number for other in trials):
        return  # recovered before
    retries = [other for other in trials if other.user_attrs.get(RETRY_ATTR) == frozen.number]
    waiting = [other for other in retries if other.state.name == "WAITING"]
    if waiting and _takes_the_result(study, waiting[0], frozen):
        tell_outcome(study, storage_of(study).get_trial(trial_id(waiting[0])), outcome, _overrides_of(folder))
    elif not retries:
        study.add_trial(optuna.trial.create_trial(
            params=dict(frozen.params), distributions=dict(frozen.distributions), value=outcome.value,
            user_attrs={STATUS_ATTR: "completed", "run_dir": str(folder), "overrides": _overrides_of(folder),
                        "wall_time_s": outcome.wall_time_s, RESULT_OF: frozen.number}))
    else:
        return  # its retry runs (or ran) already
    done.told.append(frozen.number)
    log.warning("trial %d completed in %s after the study had closed it as interrupted: its result recorded, "
                "its point not trained again", frozen.number, folder)


def reconcile(study, sweep_dir) -> Reconciled:
    """Make the study agree with the trial folders (see the module's text); what changed."""
    done = Reconciled()
    trials = study.get_trials(deepcopy=False)
    for frozen in trials:
        state = frozen.state.name
        if state == "RUNNING":
            if _worker_gone(sweep_dir, frozen):  # a live worker tells its own trials
                settle_from_folder(study, frozen, sweep_dir, done)
            continue
        if settle_abandoned(trial_folder(sweep_dir, frozen)) is not None:  # the study has closed it already
            done.settled.append(frozen.number)
        if state == "FAIL" and frozen.user_attrs.get(STATUS_ATTR) in (None, INTERRUPTED):
            _recover_interrupted(study, frozen, trials, sweep_dir, done)
    return done
