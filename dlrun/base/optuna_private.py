"""Every use of Optuna's private API, in one place, each with why no public API does. An
Optuna upgrade that breaks one breaks it here, and tests/test_optuna_private.py says which.

The public API is used everywhere else: study.ask / study.tell (by trial number),
study.enqueue_trial, study.add_trial, the storages' heartbeats with
optuna.storages.fail_stale_trials and a failed-trial callback (dlrun.sweeps.storage).

In the base layer because the sweeps and the population's pruning both need it. It imports
nothing: each helper takes the Optuna object it reads.
"""

from __future__ import annotations


def storage_of(study):
    """The study's storage. Why: workers sharing a study act on trials by id, which the Study
    offers no method for: close another (dead) worker's trial, stamp a trial with its worker
    before it runs, set a grid place's parameters on an asked trial, take a queued retry
    (WAITING -> RUNNING) to give it a recorded result, record a trial's heartbeat."""
    return study._storage


def trial_id(trial) -> int:
    """The storage's id of a Trial or FrozenTrial. Why: every storage call takes the id, and
    Optuna exposes only the trial's number (mapping a number to an id needs the study's id,
    private too)."""
    return trial._trial_id
