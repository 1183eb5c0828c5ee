"""Claiming the next trial of a study that several workers share: exactly n_trials places,
whoever asks.

Workers cannot count and then ask in one step (two would both take the last place), but the
storage numbers new trials atomically. So a worker asks first, then counts the places held
by trials numbered below its own; at n_trials or more its trial is surplus (closed unrun, not
shown). A trial holds a place from its ask until it ends with a result; one that was
interrupted frees its place for the retry of its point. Before counting, a worker waits for
any lower-numbered trial still being claimed (asked, not yet stamped or closed: a matter of
milliseconds), so every claim is decided on settled claims below it.

In a grid sweep a place is a combination: a new trial takes the first combination (in Hydra's
order) that no lower-numbered place holds; a retried point needs its own to be free.
"""

from __future__ import annotations

import time
import warnings

from dlrun.base.optuna_private import storage_of, trial_id
from dlrun.sweeps.workers import INTERRUPTED, STATUS_ATTR, SURPLUS, WORKER_ATTR, close, reap

SETTLE_POLL_S = 0.05


def holds_place(frozen) -> bool:
    """Waiting (a queued retry), running, or ended with a result (completed, pruned, failed, diverged)."""
    if frozen.state.name != "FAIL":
        return True
    return frozen.user_attrs.get(STATUS_ATTR) not in (None, INTERRUPTED, SURPLUS)


def counted_trials(study) -> list:
    """Trials that ended with a result: they count toward n_trials."""
    return counted(study.get_trials(deepcopy=False))


def counted(trials: list) -> list:
    """Those of `trials` (already read from the study) that count toward n_trials."""
    return [frozen for frozen in trials if frozen.state.is_finished() and holds_place(frozen)]


def _key(params: dict) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in params.items()))


def _planned_params(frozen) -> dict:
    return dict(frozen.params or frozen.system_attrs.get("fixed_params") or {})


def _settled_below(study, number: int, presence) -> list:
    """The trials numbered below `number`, once none of them is still being claimed."""
    while True:
        below = [frozen for frozen in study.get_trials(deepcopy=False) if frozen.number < number]
        if not any(frozen.state.name == "RUNNING" and WORKER_ATTR not in frozen.user_attrs for frozen in below):
            return below
        time.sleep(SETTLE_POLL_S)
        reap(study, presence)  # one whose asker died is closed after STALE_AFTER_S


class Claims:
    """Asks for this worker's next trial; `next()` -> a running FrozenTrial with its params, or None."""

    def __init__(self, study, space, n_places: int, grid: bool, presence, worker: str):
        self.study, self.space, self.n_places, self.grid = study, space, n_places, grid
        self.presence, self.worker = presence, worker

    def _free_combinations(self, placed: list) -> list:
        held = {_key(_planned_params(frozen)) for frozen in placed}
        return [combination for combination in self.space.grid() if _key(combination) not in held]

    def room(self) -> bool:
        """Worth asking: a queued retry waits, or places (and, in a grid, combinations) are left."""
        trials = self.study.get_trials(deepcopy=False)
        if any(frozen.state.name == "WAITING" for frozen in trials):
            return True
        placed = [frozen for frozen in trials if holds_place(frozen)]
        return len(placed) < self.n_places and (not self.grid or bool(self._free_combinations(placed)))

    def _params_for(self, frozen, placed: list) -> dict | None:
        """The point this trial runs (a grid place's combination), or None when it has no place."""
        if len(placed) >= self.n_places:
            return None
        if not self.grid:
            return dict(frozen.params)
        free = self._free_combinations(placed)
        wanted = frozen.system_attrs.get("fixed_params")  # a queued retry's point
        if wanted is not None:
            return dict(wanted) if _key(wanted) in {_key(c) for c in free} else None
        return free[0] if free else None

    def _set_params(self, frozen, params: dict) -> None:
        storage, distributions = storage_of(self.study), self.space.distributions()
        for name, value in params.items():
            distribution = distributions[name]
            storage.set_trial_param(trial_id(frozen), name, distribution.to_internal_repr(value), distribution)

    def next(self):
        """Ask, settle the claims below, then take a place (stamp the trial with this worker) or
        close it as surplus. None when no place is left."""
        while self.room():
            with warnings.catch_warnings():  # Optuna's heartbeat "is supposed to be used with Study.optimize"
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                asked = self.study.ask()
                if not self.grid:  # drawn one by one: a knob only for the options that take it (space.suggest)
                    self.space.suggest(asked)
            self.presence.hold(self.study, trial_id(asked))
            placed = [frozen for frozen in _settled_below(self.study, asked.number, self.presence)
                      if holds_place(frozen)]
            frozen = storage_of(self.study).get_trial(trial_id(asked))
            params = self._params_for(frozen, placed)
            if params is None:
                self.presence.drop(trial_id(asked))
                close(self.study, frozen, SURPLUS)
                continue
            if self.grid:
                self._set_params(frozen, params)
            storage_of(self.study).set_trial_user_attr(trial_id(frozen), WORKER_ATTR, self.worker)
            return storage_of(self.study).get_trial(trial_id(asked))
        return None

