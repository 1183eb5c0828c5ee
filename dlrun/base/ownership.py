"""One live owner per folder: a process (pid, host, start time) that renews a heartbeat.

A run folder, and a sweep worker's slot, is held through an owner file: created exclusively
when the folder is taken, rewritten every HEARTBEAT_S seconds by a daemon thread, removed
when the owner ends cleanly. A reader decides from it whether the owner still lives: on the
same host a pid that no longer exists is dead at once; elsewhere (another node of a cluster)
a heartbeat older than STALE_AFTER_S is. A thread, not a training hook, renews it, so a long
validation or a slow first batch never looks like a death.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dlrun.base import atomic
from dlrun.base.errors import BadInput

OWNER_FILE = "owner.json"
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0  # twelve missed beats: a busy shared file system, not a live owner


class FolderTaken(BadInput):
    """Another live process owns the folder; str() names it and what to do."""


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    started_at: float
    heartbeat_at: float

    def is_alive(self, now: float | None = None) -> bool:
        if self.host == socket.gethostname() and not _pid_exists(self.pid):
            return False
        return (now or time.time()) - self.heartbeat_at < STALE_AFTER_S

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        return f"pid {self.pid} on {self.host} (started {started}, last heartbeat {time.time() - self.heartbeat_at:.0f} s ago)"


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_owner(folder) -> Owner | None:
    """The folder's owner as last written, or None (never owned, or released cleanly)."""
    try:
        fields = json.loads((Path(folder) / OWNER_FILE).read_text())
        return Owner(int(fields["pid"]), str(fields["host"]), float(fields["started_at"]),
                     float(fields["heartbeat_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_owner(folder) -> Owner | None:
    owner = read_owner(folder)
    return owner if owner is not None and owner.is_alive() else None


class Heartbeat:
    """Holds a folder while it lives: `take()` claims it, `release()` lets it go."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / OWNER_FILE
        self.owner = Owner(os.getpid(), socket.gethostname(), time.time(), time.time())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, take_over_dead: bool = False) -> "Heartbeat":
        """Claim the folder: the owner file is created exclusively, so of two processes that
        race for one folder exactly one wins. A dead owner's file is replaced only when
        `take_over_dead` (a resume); a live owner's never."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            current = read_owner(self.folder)
            if current is not None and current.is_alive() and current.pid != os.getpid():
                raise FolderTaken(f"{self.folder} is in use by {current.describe()}") from None
            if not take_over_dead and current is not None:
                raise FolderTaken(f"{self.folder} holds a run already") from None
            self._write()
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(json.dumps(asdict(self.owner)))
        self._thread = threading.Thread(target=self._beat, name="dlrun-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _write(self) -> None:
        self.owner = Owner(self.owner.pid, self.owner.host, self.owner.started_at, time.time())
        atomic.write_text(self.path, json.dumps(asdict(self.owner)))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._write()
            except OSError:  # a full disk or a lost mount: the next beat tries again
                pass

    def release(self) -> None:
        """Stop beating and remove the owner file: the folder is free (a finished run)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_S)
        current = read_owner(self.folder)
        if current is not None and current.pid == self.owner.pid and current.host == self.owner.host:
            self.path.unlink(missing_ok=True)
