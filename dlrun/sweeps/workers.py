"""Sweep workers: the same `dlrun -m` command started K times joins one study. Each worker
proves it lives, stamps the trials it runs with its id, and closes the trials of workers
that died (interrupted), queueing each one's point once more.

How a worker proves it lives:
- journal in a shared sweep folder: an owner file with a heartbeat in
  SWEEP_DIR/workers/<host>-<pid>/ (dlrun.base.ownership), read by the other workers;
- a database storage (workers may share no folder): Optuna's heartbeat for each trial it
  runs, in the database.
On its own host a worker whose process is gone is dead at once, whatever the heartbeat says.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path

from dlrun.base.optuna_private import storage_of, trial_id
from dlrun.base.ownership import HEARTBEAT_S, STALE_AFTER_S, Heartbeat, Owner, live_owner
from dlrun.sweeps.outage import patience_for

log = logging.getLogger("dlrun.sweep")

WORKERS_DIR = "workers"
# Trial user attributes (the study's record of who runs what)
WORKER_ATTR = "dlrun_worker"  # the id (<host>-<pid>) of the worker that runs the trial
RETRY_ATTR = "dlrun_retry_of"  # the number of the interrupted trial whose point this trial runs again
STATUS_ATTR = "status"  # how the trial ended, as its summary.json says (completed, failed, ...)
INTERRUPTED = "interrupted"  # stopped before it ended: not counted, its point queued again (once)
SURPLUS = "surplus"  # asked when n_trials were already taken by other workers: never run, not shown


def this_worker() -> str:
    import os

    return f"{socket.gethostname()}-{os.getpid()}"


def gone_from_this_host(worker: str) -> bool:
    """A worker of this host whose process no longer exists (an Owner with a fresh heartbeat
    is judged on its pid alone)."""
    host, _, pid = worker.rpartition("-")
    return pid.isdigit() and not Owner(int(pid), host, 0.0, time.time()).is_alive()


class FolderPresence:
    """Workers sharing the sweep folder: each holds SWEEP_DIR/workers/<id>/owner.json."""

    def __init__(self, sweep_dir, worker: str):
        self.workers = Path(sweep_dir) / WORKERS_DIR
        self.worker = worker
        self._heartbeat = None

    def start(self) -> None:
        self._heartbeat = Heartbeat(self.workers / self.worker).take(take_over_dead=True)

    def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.release()
            try:
                (self.workers / self.worker).rmdir()
            except OSError:
                pass

    def hold(self, study, held: int) -> None:
        pass

    def drop(self, held: int) -> None:
        pass

    def dead(self, study, running: list) -> list:
        return [frozen for frozen in running if WORKER_ATTR in frozen.user_attrs
                and live_owner(self.workers / frozen.user_attrs[WORKER_ATTR]) is None]


class StoragePresence:
    """Workers on a database: Optuna's heartbeat for every trial this worker runs, recorded
    by one thread; a trial whose heartbeat is older than Optuna's grace period is dead: Optuna's
    own optuna.storages.fail_stale_trials closes it, and the storage's failed-trial callback
    (retry_stale: its heartbeat_stale_trial_callback, set in dlrun.sweeps.storage) queues its point again."""

    def __init__(self, worker: str, url: str):
        self.worker, self.url = worker, url
        self._held, self._held_storage = set(), None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="dlrun-trial-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            for held in list(self._held):
                try:
                    self._held_storage.record_heartbeat(held)
                except Exception as error:  # a lost connection: the next beat tries again
                    log.debug("heartbeat of trial id %d failed: %s", held, error)

    def hold(self, study, held: int) -> None:
        self._held_storage = storage_of(study)
        self._held_storage.record_heartbeat(held)
        self._held.add(held)

    def drop(self, held: int) -> None:
        self._held.discard(held)

    def dead(self, study, running: list) -> list:
        """Trials of workers of this host whose process is gone (at once, before their heartbeat
        is stale); stale ones elsewhere are closed by Optuna's fail_stale_trials on the way,
        except in the grace period after a storage outage (no worker could beat during it)."""
        from optuna.exceptions import ExperimentalWarning
        from optuna.storages import fail_stale_trials

        patience = patience_for(self.url)
        if patience is None or patience.settled_for(STALE_AFTER_S):
            with warnings.catch_warnings():  # "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", ExperimentalWarning)
                if patience is None:
                    fail_stale_trials(study)
                else:  # it reads the storage through a private method, which the patient storage does not wrap
                    patience.call(fail_stale_trials, study)
        return [frozen for frozen in running if WORKER_ATTR in frozen.user_attrs
                and gone_from_this_host(frozen.user_attrs[WORKER_ATTR])]


def presence_for(location, worker: str):
    return StoragePresence(worker, location.url) if location.url else FolderPresence(location.sweep_dir, worker)


def _unclaimed_and_old(frozen) -> bool:
    """A running trial no worker has stamped for longer than any worker takes to stamp one
    (milliseconds): asked by a process that died at once, or by an older dlrun."""
    started = frozen.datetime_start
    return (WORKER_ATTR not in frozen.user_attrs and started is not None
            and (datetime.now() - started).total_seconds() > STALE_AFTER_S)


def close(study, frozen, status: str, error: str | None = None) -> bool:
    """End a running trial as `status` (failed state): True for the one process that ended it,
    False when another worker (or its own) ended it first."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    storage = storage_of(study)
    try:
        storage.set_trial_user_attr(trial_id(frozen), STATUS_ATTR, status)
        if error:
            storage.set_trial_user_attr(trial_id(frozen), "error", error)
        return storage.set_trial_state_values(trial_id(frozen), TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False


def retry(study, frozen) -> None:
    """Queue an interrupted trial's point once more (not a retry's: a point that kills its worker
    twice is given up). The next ask of any worker takes it."""
    if frozen.user_attrs.get(RETRY_ATTR) is not None or not frozen.params:
        return
    study.enqueue_trial(dict(frozen.params), user_attrs={RETRY_ATTR: frozen.number})
    log.info("trial %d's point queued again (its run was interrupted)", frozen.number)


def retry_stale(study, frozen) -> None:
    """Optuna's failed-trial callback for a trial fail_stale_trials closed (its heartbeat stopped):
    its point queued again, as a trial closed by reap."""
    log.warning("trial %d: its worker %s stopped (no heartbeat): marked interrupted", frozen.number,
                frozen.user_attrs.get(WORKER_ATTR, "an unknown worker"))
    retry(study, frozen)


def reap(study, presence, settle=None) -> int:
    """Close the trials of dead workers as interrupted and queue their points again; how many.
    `settle(frozen)`: tells a dead worker's trial what its folder recorded instead, when it has
    one to tell (dlrun.sweeps.reconcile.settle_from_folder: a finished run is not run again)."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    dead = presence.dead(study, running) + [frozen for frozen in running if _unclaimed_and_old(frozen)]
    return sum(close_dead(study, frozen, settle) for frozen in dead)


def close_dead(study, frozen, settle=None) -> bool:
    """One trial whose worker is gone: told what its folder recorded (`settle`), else closed as
    interrupted with its point queued again; True when closed here as interrupted."""
    if settle is not None and settle(frozen):
        return False
    worker = frozen.user_attrs.get(WORKER_ATTR, "an unknown worker")
    if close(study, frozen, INTERRUPTED, f"its worker {worker} stopped (no heartbeat)"):
        log.warning("trial %d: its worker %s stopped without a word: marked interrupted", frozen.number, worker)
        retry(study, frozen)
        return True
    return False


def interrupt_own(study, worker: str) -> int:
    """This worker's running trials, when a signal stops it: interrupted, their points queued again."""
    from optuna.trial import TrialState

    own = [frozen for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
           if frozen.user_attrs.get(WORKER_ATTR) == worker]
    for frozen in own:
        if close(study, frozen, INTERRUPTED, "the sweep was stopped"):
            retry(study, frozen)
    return len(own)
