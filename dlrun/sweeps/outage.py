"""Riding out an outage of a database storage (a PostgreSQL restart, a dropped network link):
every call a worker makes to its study is retried with backoff while the database cannot be
reached, for at most `hydra.sweeper.storage_outage_s` seconds counted from the moment it was
lost. One console line says it is lost, one that it is back. Past the bound the worker gives
up (StorageLost): every later call fails at once, and the trial folders keep what the study
could not be told (dlrun.sweeps.reconcile tells it when the sweep continues).

Only a lost connection is retried (SQLAlchemy's OperationalError / InterfaceError, or an
error that invalidated the connection), never a bad query or a constraint: those are bugs or
races with their own handling. A write whose commit was in flight when the server went away
may have landed: retrying a trial's ask then leaves one trial no worker stamps (closed as
interrupted by the next worker that asks), retrying a tell finds the trial closed (told once).

One Patience per storage URL in a process: the worker's slots and its heartbeat thread share
it, so an outage is announced once.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("dlrun.sweep")

FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 8.0


class StorageLost(RuntimeError):
    """The storage stayed unreachable longer than the bound; str() says so in one line."""


def is_outage(error: BaseException) -> bool:
    """A lost or refused connection, anywhere in the error's chain (Optuna wraps SQLAlchemy's
    errors in StorageInternalError)."""
    import sqlalchemy.exc

    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        if getattr(error, "connection_invalidated", False):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _first_line(error: BaseException) -> str:
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    cause = getattr(cause, "orig", None) or cause
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


class Patience:
    """Retries calls while the storage is unreachable, for at most `bound_s` seconds an outage."""

    def __init__(self, shown_url: str, bound_s: float):
        self.shown_url, self.bound_s = shown_url, float(bound_s)
        self._lock = threading.Lock()
        self.lost_at = None  # time.monotonic() when the current outage began; None while reachable
        self.back_at = None  # time.monotonic() when the last outage ended
        self.gave_up = False
        self.outages = 0

    def _lost(self, error: BaseException) -> float:
        """Seconds the storage has been unreachable (the first failure announces it)."""
        with self._lock:
            if self.lost_at is None:
                self.lost_at, self.outages = time.monotonic(), self.outages + 1
                log.warning("lost the connection to the study's storage %s (%s): retrying for up to %g s "
                            "(hydra.sweeper.storage_outage_s)", self.shown_url, _first_line(error), self.bound_s)
            return time.monotonic() - self.lost_at

    def _reached(self) -> None:
        if self.lost_at is None:
            return
        with self._lock:
            if self.lost_at is not None:
                self.back_at = time.monotonic()
                log.warning("the study's storage is back after %.1f s: the sweep goes on", self.back_at - self.lost_at)
                self.lost_at = None

    def lost_message(self) -> str:
        return (f"the study's storage {self.shown_url} has been unreachable for more than {self.bound_s:g} s "
                f"(hydra.sweeper.storage_outage_s): this worker stopped")

    def _give_up(self) -> StorageLost:
        with self._lock:
            if not self.gave_up:
                self.gave_up = True
                log.debug("giving up on the storage after %g s", self.bound_s)
        return StorageLost(self.lost_message())

    def call(self, function, *args, **kwargs):
        """function(*args, **kwargs), retried with backoff while the storage is unreachable."""
        wait = FIRST_WAIT_S
        while True:
            if self.gave_up:
                raise StorageLost(self.lost_message())
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                if not is_outage(error):
                    raise
                left = self.bound_s - self._lost(error)
                if left <= 0:
                    raise self._give_up() from None
                time.sleep(min(wait, left))
                wait = min(wait * 2, LONGEST_WAIT_S)
                continue
            self._reached()
            return result

    def settled_for(self, seconds: float) -> bool:
        """Reachable, and for at least `seconds` since the last outage ended (every worker's
        heartbeat has had time to beat again: none is judged stale for the outage's gap)."""
        if self.lost_at is not None:
            return False
        return self.back_at is None or time.monotonic() - self.back_at >= seconds


_PATIENCE: dict = {}
_REGISTRY_LOCK = threading.Lock()


def patience_for(url: str, bound_s: float | None = None) -> Patience | None:
    """This process's Patience for a storage URL (made on the first call that gives a bound);
    None for a storage opened without one (a trial's own process, `dlrun summary`)."""
    from dlrun.base.secrets import masked

    with _REGISTRY_LOCK:
        if bound_s is not None:
            found = _PATIENCE.get(url)
            if found is None:
                found = _PATIENCE[url] = Patience(masked(url), bound_s)
            found.bound_s = float(bound_s)
        return _PATIENCE.get(url)


def patient(storage, patience: Patience):
    """The storage with each of its public methods retried through `patience` (set on the
    instance: Optuna's Study, its cache and fail_stale_trials keep seeing an RDBStorage)."""
    for name in dir(type(storage)):
        method = getattr(storage, name, None)
        if name.startswith("_") or not callable(method):
            continue
        setattr(storage, name, _retried(method, patience))
    return storage


def _retried(method, patience: Patience):
    def call(*args, **kwargs):
        return patience.call(method, *args, **kwargs)

    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    return call


def quiet_connection_pool() -> None:
    """SQLAlchemy's pool logs a traceback when it cannot reset a connection the server dropped;
    the outage has its own line."""
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
