"""The sweep loop of one worker: `slots` trials at once, each slot on its own claiming a
trial (dlrun.sweeps.claims), launching it and telling the study how it ended, so a new trial
starts as soon as any slot is free (no batch barrier). It stops when no place is left or when
too many trials fail.

The launcher is a function, `launch(trial number, overrides, slot) -> Outcome`, so this loop
knows nothing about Hydra (the sweeper plugin supplies it). With a population launcher a
slot claims up to `plan.population` trials at once and hands them all to
`launch_batch([(trial number, overrides)], slot) -> [Outcome]`, then tells each. One slot runs in the calling
thread (a trial in this process may install signal handlers); more run in threads, for
launchers whose trials are processes of their own.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

from dlrun.recipe.metrics import objectives
from dlrun.training.summary import read_summary
from dlrun.sweeps.claims import Claims, counted, counted_trials, holds_place
from dlrun.sweeps.progress import SweepProgress
from dlrun.base.optuna_private import storage_of, trial_id
from dlrun.sweeps.workers import INTERRUPTED, RETRY_ATTR, STATUS_ATTR, SURPLUS, WORKER_ATTR, close_dead, reap, retry

log = logging.getLogger("dlrun.sweep")

# Statuses that count against hydra.sweeper.max_failure_rate: errors. A diverged or pruned
# trial is a result about its parameters, not a broken sweep.
ERROR_STATUSES = ("failed", "crashed")


# How often a worker with nothing left to start looks at the trials other workers still run
WAIT_POLL_S = 1.0


class SweepAborted(RuntimeError):
    """Too many trials failed with an error; str() says how many and the last error."""


class SweepUnfinished(SweepAborted):
    """No place is left to take, yet fewer than n_trials ended with a result; str() says which not and why."""


@dataclass(frozen=True)
class Outcome:
    status: str  # a summary.json status: completed, failed, pruned, diverged, interrupted
    value: float | None = None
    error: str | None = None
    run_dir: str | None = None
    wall_time_s: float | None = None
    # the objective's best value the run reached before it stopped (a pruned or diverged
    # trial's too): shown on the trial's line, never told to the study
    reached: float | None = None
    # every objective's value, in order, for a multi-objective sweep (value is the first)
    values: tuple | None = None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _multi_objective(summary: dict, run_dir) -> Outcome | None:
    """A completed run's Outcome with each of its objectives' values (summary.json's
    `objectives`), or None for a single objective."""
    named = summary.get("objectives") or {}
    if len(named) < 2:
        return None
    missing = next((name for name, value in named.items() if not _finite(value)), None)
    if missing is not None:
        return Outcome("failed", None, f"the run gave no finite value of the objective {missing}",
                       str(run_dir) if run_dir else None, summary.get("wall_time_s"))
    values = tuple(float(value) for value in named.values())
    return Outcome("completed", values[0], None, str(run_dir) if run_dir else None, summary.get("wall_time_s"),
                   values=values)


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
        several = _multi_objective(summary, run_dir)
        if several is not None:
            return several
        value = value if value is not None else (summary.get("objective") or {}).get("value")
        finite = _finite(value)
        return Outcome("completed" if finite else "failed", float(value) if finite else None,
                       None if finite else "the run gave no finite value of the objective metric",
                       str(run_dir) if run_dir else None, summary.get("wall_time_s"))
    if status in (None, "running", "completed"):
        status = "failed"
    return Outcome(status, None, headline(summary.get("error")) or headline(exception) or status,
                   str(run_dir) if run_dir else None, summary.get("wall_time_s"),
                   reached=(summary.get("objective") or {}).get("value"))


def tell_outcome(study, frozen, outcome: Outcome, overrides: list) -> bool:
    """Record how the trial ended; False when another worker closed it first (this worker
    looked dead to it): the run's own folder still has its result."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    attributes = {"status": outcome.status, "overrides": overrides, "error": outcome.error,
                  "run_dir": outcome.run_dir, "wall_time_s": outcome.wall_time_s}
    try:
        for key, value in attributes.items():
            if value is not None:
                storage_of(study).set_trial_user_attr(trial_id(frozen), key, value)
        if outcome.status == "completed":
            study.tell(frozen.number, list(outcome.values) if outcome.values else outcome.value)
        else:
            study.tell(frozen.number, state=TrialState.PRUNED if outcome.status == "pruned" else TrialState.FAIL)
    except (UpdateFinishedTrialError, ValueError, RuntimeError) as error:
        if storage_of(study).get_trial(trial_id(frozen)).state.is_finished():
            log.warning("trial %d was closed by another worker before it ended here (%s)", frozen.number, error)
            return False
        raise
    if outcome.status == INTERRUPTED:
        retry(study, frozen)
    return True


def _check_failures(trials: list, plan, planned: int) -> None:
    errors = [trial for trial in trials if trial.user_attrs.get("status") in ERROR_STATUSES]
    if len(errors) > plan.max_failure_rate * planned:
        last = errors[-1]
        raise SweepAborted(f"{len(errors)} of {planned} planned trials failed with an error, more than "
                           f"hydra.sweeper.max_failure_rate={plan.max_failure_rate:g}; sweep stopped. Last: trial "
                           f"{last.number}: {last.user_attrs.get('error')}")


class Worker:
    """One worker's slots over a shared study."""

    def __init__(self, study, space, plan, launch, objective, presence, worker: str, on_told=None,
                 launch_batch=None, settle=None):
        self.study, self.space, self.plan, self.launch = study, space, plan, launch
        self.objective = objectives(objective)  # the metric names
        self.launch_batch = launch_batch
        self.settle = settle  # a dead worker's trial -> told what its folder recorded (reap's hook)
        self.planned = plan.n_trials if plan.n_trials is not None else len(space.grid())
        if plan.grid:
            self.planned = min(self.planned, len(space.grid()))
        self.claims = Claims(study, space, self.planned, plan.grid, presence, worker)
        self.presence, self.on_told, self.worker = presence, on_told or (lambda: None), worker
        self.running_here = set()  # numbers of the trials this worker's slots run now
        self.lock = threading.Lock()  # one study call at a time in this process
        self.stop = threading.Event()
        self.ran = 0
        self.progress = SweepProgress(self.planned, len(counted_trials(study)))

    def _claim(self) -> list:
        """The slot's next trials: one, or up to plan.population with a batch launcher; [] when none is left."""
        wanted = self.plan.population if self.launch_batch is not None else 1
        claimed = []
        with self.lock:
            if self.stop.is_set():
                return claimed
            reap(self.study, self.presence, self.settle)
            while len(claimed) < wanted:
                frozen = self.claims.next()
                if frozen is None:
                    break
                claimed.append(frozen)
                self.running_here.add(frozen.number)
        return claimed

    def _launch(self, claimed: list, index: int) -> list:
        """[(frozen trial, overrides, Outcome)] for the claimed trials."""
        overrides = [self.space.overrides(frozen.params) for frozen in claimed]
        if self.launch_batch is None:
            outcomes = [self.launch(claimed[0].number, overrides[0], index)]
        else:
            outcomes = self.launch_batch([(frozen.number, listed) for frozen, listed in zip(claimed, overrides)], index)
        return list(zip(claimed, overrides, outcomes))

    def _log(self, frozen, outcome: Outcome, overrides: list) -> None:
        value = outcome.value if outcome.value is not None else outcome.reached
        shown = f"{value:.6g}" if value is not None else "-"
        if outcome.values:  # a multi-objective trial: name=value for each
            shown = ", ".join(f"{name}={item:.6g}" for name, item in zip(self.objective[1:], outcome.values[1:]))
            shown = f"{outcome.values[0]:.6g}, {shown}"
        retry_of = frozen.user_attrs.get(RETRY_ATTR)
        log.info("trial %d %s: %s=%s  %s%s%s", frozen.number, outcome.status, self.objective[0], shown,
                 " ".join(overrides[len(self.space.fixed):]), f"  (retry of trial {retry_of})" if retry_of is not None
                 else "", f"  ({outcome.error})" if outcome.error else "")

    def _log_progress(self, trials: list) -> None:
        done = counted(trials)
        failed = sum(frozen.user_attrs.get("status") in ERROR_STATUSES for frozen in done)
        log.info(self.progress.line(min(len(done), self.planned), failed))

    def _still_running(self) -> list | None:
        """After the dead workers' trials are reaped: None when a place is free again (a retry
        queued), else the trials that other workers still run."""
        with self.lock:
            reap(self.study, self.presence, self.settle)
            running = [frozen for frozen in self.study.get_trials(deepcopy=False)
                       if frozen.state.name == "RUNNING" and holds_place(frozen)]
            # stamped with this worker's id but run by none of its slots: left by an earlier sweep of this process
            orphans = {frozen.number for frozen in running if frozen.user_attrs.get(WORKER_ATTR) == self.worker
                       and frozen.number not in self.running_here}
            for frozen in running:
                if frozen.number in orphans:
                    close_dead(self.study, frozen, self.settle)
            if self.claims.room():
                return None
            return [frozen.number for frozen in running if frozen.number not in orphans | self.running_here]

    def _wait_for_the_rest(self) -> bool:
        """Nothing left to start: stay until the trials still running end (a dead worker's is
        reaped and its point queued again, which this slot then takes). True: a place is free."""
        waited_for = set()
        while not self.stop.is_set():
            running = self._still_running()
            if running is None:
                return True
            if not running:
                return False
            if not set(running) <= waited_for:  # said again only when a trial joins the wait
                log.info("nothing left to start here: waiting for trial(s) %s to end (run by other workers, "
                         "or retried here if their worker died)", ", ".join(map(str, running)))
            waited_for = set(running)
            self.stop.wait(WAIT_POLL_S)
        return False

    def slot(self, index: int) -> None:
        while True:
            claimed = self._claim()
            if not claimed:
                if self.stop.is_set() or not self._wait_for_the_rest():
                    return
                continue
            ended = self._launch(claimed, index)
            with self.lock:
                for frozen, overrides, outcome in ended:
                    self.presence.drop(trial_id(frozen))
                    tell_outcome(self.study, frozen, outcome, overrides)
                    self.running_here.discard(frozen.number)
                    self.ran += 1
                    self._log(frozen, outcome, overrides)
                self.on_told()
                trials = self.study.get_trials(deepcopy=False)  # read once for both
                self._log_progress(trials)
                try:
                    _check_failures(trials, self.plan, self.planned)
                except SweepAborted:
                    self.stop.set()
                    raise

    def run(self, slots: int) -> int:
        """Run until no place is left; how many trials ran here."""
        if slots <= 1:
            self.slot(0)
            self.check_finished()
            return self.ran
        failures = []

        def guarded(index):
            try:
                self.slot(index)
            except BaseException as error:  # noqa: B036 - handed to the main thread
                self.stop.set()
                failures.append(error)

        threads = [threading.Thread(target=guarded, args=(index,), name=f"dlrun-slot-{index}", daemon=True)
                   for index in range(slots)]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)  # a timed join lets Ctrl+C reach this thread
        if failures:
            raise failures[0]
        self.check_finished()
        return self.ran

    def check_finished(self) -> None:
        """SweepUnfinished unless n_trials (every combination of a grid) ended with a result."""
        trials = self.study.get_trials(deepcopy=False)
        ended = counted(trials)
        if len(ended) >= self.planned:
            return
        numbers = {frozen.number for frozen in ended}
        unfinished = [frozen for frozen in trials
                      if frozen.number not in numbers and frozen.user_attrs.get(STATUS_ATTR) != SURPLUS]
        shown = "; ".join(f"trial {frozen.number} {frozen.user_attrs.get(STATUS_ATTR) or frozen.state.name.lower()}"
                          + (f" ({frozen.user_attrs['error']})" if frozen.user_attrs.get("error") else "")
                          for frozen in unfinished[-5:])
        raise SweepUnfinished(f"{len(ended)} of {self.planned} trials ended with a result and no worker can "
                              f"take another: {shown or 'none is left running'}; run the same command again to "
                              f"continue the sweep")

