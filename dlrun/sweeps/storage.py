"""Where a sweep's study lives, and how to open it.

- `hydra.sweeper.storage=null` (default): Optuna's journal file, SWEEP_DIR/study.journal, an
  append-only log that processes on one machine or on a shared filesystem write to safely.
- `hydra.sweeper.storage=URL`: Optuna's RDBStorage (postgresql://, mysql://, sqlite:///), for
  workers on machines that share no folder. The sweep folder then holds study.json, which
  says where the study is (the URL without its password) so `dlrun summary` finds it.

A journal whose last record was cut off (a writer killed mid-line) is read up to it; a worker
that is about to write drops the cut-off tail first, since a record appended after it would
glue onto it and make the whole file unreadable.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from dlrun.base import atomic
from dlrun.base.errors import BadInput
from dlrun.base.secrets import masked
from dlrun.base.ownership import HEARTBEAT_S, STALE_AFTER_S
from dlrun.sweeps.outage import patience_for, patient, quiet_connection_pool

log = logging.getLogger("dlrun.sweep")

JOURNAL_FILE = "study.journal"
POINTER_FILE = "study.json"
# The storage URL of the sweep this process belongs to: set in each worker's environment (so a
# trial's process inherits it) and read by `dlrun summary` before study.json, which holds the
# URL without its password.
ENV_STORAGE = "DLRUN_SWEEP_STORAGE"
RDB_SCHEMES = ("postgresql", "mysql", "sqlite")


class NotASweep(BadInput):
    """A folder without a study; str() says which."""


class StorageError(BadInput):
    """A storage URL that cannot be used; str() is one line for the user."""


@dataclass(frozen=True)
class Location:
    sweep_dir: Path
    url: str | None = None  # None: the journal file in the sweep folder
    study_name: str | None = None  # None: the journal's one study (or the folder's name when new)
    # a database storage's calls are retried through an outage this long (dlrun.sweeps.outage);
    # None: not retried (a trial's own process, `dlrun summary`)
    outage_s: float | None = None

    @property
    def journal(self) -> Path:
        return Path(self.sweep_dir) / JOURNAL_FILE


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def url_problem(url: str) -> str | None:
    """Why a storage URL cannot work (unknown scheme, missing driver), else None: said before any trial."""
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    expected = ("expected null (the journal file in the sweep folder) or a database URL: "
                "postgresql://USER@HOST:PORT/DB, mysql://USER@HOST/DB or sqlite:///PATH")
    if scheme(url).split("+", 1)[0] not in RDB_SCHEMES:
        return expected
    try:
        make_url(url).get_dialect().import_dbapi()  # the driver SQLAlchemy picks for this URL
    except ImportError as error:
        extra = ' (pip install "dlrun[postgres]")' if scheme(url).startswith("postgresql") else ""
        return f"needs the database driver {error.name}, which is not installed{extra}"
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError):
        return expected
    return None


def without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url)._replace(password=None).render_as_string(hide_password=False)  # set() keeps a None


def cut_off_tail(journal: Path) -> int:
    """Bytes after the journal's last complete record (a line cut off by a killed writer), 0 if none."""
    try:
        with open(journal, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            block = min(size, 1 << 16)
            while True:  # find the last newline, reading backwards
                handle.seek(size - block)
                data = handle.read(block)
                newline = data.rfind(b"\n")
                if newline >= 0:
                    return block - newline - 1
                if block == size:
                    return size
                block = min(size, block * 4)
    except FileNotFoundError:
        return 0


def _drop_cut_off_tail(journal: Path) -> None:
    """Truncate a cut-off last record, under the journal's own lock (no writer is mid-append then)."""
    from optuna.storages.journal import JournalFileSymlinkLock

    if not cut_off_tail(journal):
        return
    lock = JournalFileSymlinkLock(str(journal))
    lock.acquire()
    try:
        tail = cut_off_tail(journal)
        if tail:
            os.truncate(journal, journal.stat().st_size - tail)
            log.warning("%s: dropped a cut-off last record (%d bytes, a write that never finished)", journal, tail)
    finally:
        lock.release()


def _rdb(url: str, outage_s: float | None = None):
    """RDBStorage with Optuna's heartbeat (how workers on other machines learn that one died),
    its calls retried through an outage of up to `outage_s` seconds once it is open (and those
    of any storage this process opens again at the same URL: a trial run inside its worker).
    Several workers that start at once race to create the tables: the loser retries."""
    import sqlalchemy.exc
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    from dlrun.sweeps.workers import retry_stale

    # fail_stale_trials calls it for each trial it closes; Optuna 4.9 renamed failed_trial_callback
    callback = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback"
                in inspect.signature(RDBStorage).parameters else "failed_trial_callback")
    settings = {"heartbeat_interval": int(HEARTBEAT_S), "grace_period": int(STALE_AFTER_S), callback: retry_stale,
                # a pooled connection the server dropped (a restart) is replaced before use, not failed on
                "engine_kwargs": {"pool_pre_ping": True}}
    earlier = patience_for(url)  # this process reached it before (a trial run by a worker): an outage, not a bad URL
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeat_interval is "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", ExperimentalWarning)
                storage = earlier.call(RDBStorage, url, **settings) if earlier else RDBStorage(url, **settings)
            if outage_s is None and earlier is None:
                return storage
            quiet_connection_pool()
            return patient(storage, patience_for(url, outage_s))
        except sqlalchemy.exc.IntegrityError:
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ArgumentError) as error:
            raise StorageError(f"hydra.sweeper.storage={masked(url)}: cannot open it: "
                               f"{str(error.orig if hasattr(error, 'orig') else error).strip().splitlines()[0]}") from None
    return RDBStorage(url, **settings)


def open_storage(location: Location, writing: bool = False):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # dlrun logs each trial itself
    if location.url:
        return _rdb(location.url, location.outage_s)
    if writing:
        Path(location.sweep_dir).mkdir(parents=True, exist_ok=True)
        _drop_cut_off_tail(location.journal)
    return JournalStorage(JournalFileBackend(str(location.journal)))


def write_pointer(location: Location) -> None:
    """study.json in the sweep folder: where a database study lives (no password)."""
    if location.url:
        Path(location.sweep_dir).mkdir(parents=True, exist_ok=True)
        atomic.write_text(Path(location.sweep_dir) / POINTER_FILE, json.dumps(
            {"storage": without_password(location.url), "study_name": location.study_name}, indent=1) + "\n")


def read_pointer(sweep_dir) -> dict | None:
    """study.json's {storage, study_name} (the URL without its password), or None for a journal sweep."""
    pointer = Path(sweep_dir) / POINTER_FILE
    return json.loads(pointer.read_text()) if pointer.is_file() else None


def find(sweep_dir) -> Location:
    """The Location of an existing sweep folder's study; NotASweep when it has none."""
    sweep_dir = Path(sweep_dir)
    fields = read_pointer(sweep_dir)
    if fields is not None:
        return Location(sweep_dir, os.environ.get(ENV_STORAGE) or fields["storage"], fields["study_name"])
    if not (sweep_dir / JOURNAL_FILE).is_file():
        raise NotASweep(f"{sweep_dir}: no {JOURNAL_FILE} (not a dlrun sweep folder, or no trial has started yet; "
                        f"a sweep on a database has {POINTER_FILE} instead)")
    tail = cut_off_tail(sweep_dir / JOURNAL_FILE)
    if tail:
        log.warning("%s: the last record is cut off (%d bytes, a write that never finished): skipped, "
                    "reading the complete records before it", sweep_dir / JOURNAL_FILE, tail)
    return Location(sweep_dir)
