"""Claiming a run folder: never two runs in one folder.

A new run's folder is created exclusively: when N runs start in the same second from one
place (a job array, a shell loop), each gets its own folder, `NAME`, `NAME-2`, `NAME-3`...
(readable, and they sort by start time first). A folder named on purpose (hydra.run.dir,
`dlrun.run(run_dir=...)`) must be new or empty: one that holds a run is refused (resume it),
and so is one that holds anything else, since a user's files in it (a metrics.csv, a
checkpoints/ folder) would be overwritten by the run's. While a run lives its process holds
the folder (dlrun.base.ownership: pid, host, heartbeat); `holding` takes and releases it once
per process, however many layers ask.

Given the run's first summary, a folder appears with its summary.json already in it (made
in a hidden folder beside it, then renamed into place): a run killed at any moment leaves
either no folder or one that reads as a run (`crashed`, its config in summary.json).
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from dlrun.base.errors import ConfigError
from dlrun.base.ownership import OWNER_FILE, FolderTaken, Heartbeat

RUN_MARKERS = ("summary.json", OWNER_FILE)  # what a folder that held a run has
_held: dict = {}  # resolved folder -> this process's Heartbeat


def holds_run(folder) -> bool:
    return any((Path(folder) / marker).exists() for marker in RUN_MARKERS)


def _unwritable(path: Path, error: OSError) -> ConfigError:
    if error.errno == errno.ENAMETOOLONG:
        return ConfigError([f"hydra.run.dir={path}: the name is too long for the file system "
                            "(shorten name=... or choose hydra.run.dir)"])
    return ConfigError([f"hydra.run.dir={path}: cannot create the run folder ({error.strerror}); "
                        "choose a writable place with hydra.run.dir=DIR"])


def _create(folder: Path, summary) -> None:
    """Create `folder`, with `summary` (if given) as summary.json already inside it: staged in
    a hidden folder beside it and renamed into place, so the folder never exists without it.
    FileExistsError when `folder` exists and is not empty (another run took it first)."""
    if summary is None:
        folder.mkdir()
        return
    from dlrun.training.summary import write_summary

    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".claiming", dir=folder.parent))
    try:
        write_summary(dict(summary, run_dir=str(folder.absolute())), staging)
        os.rename(staging, folder)  # atomic; onto an existing folder only when it is empty
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(error.errno, error.strerror, str(folder)) from None
        raise


def claim_new(path, summary=None) -> Path:
    """`path`, or `path-2`, `path-3`...: the first one this process creates itself (with
    `summary` in it)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for number in itertools.count(1):
            candidate = path if number == 1 else path.with_name(f"{path.name}-{number}")
            if candidate.exists():
                continue
            try:
                _create(candidate, summary)
                return candidate
            except FileExistsError:
                continue
    except OSError as error:
        raise _unwritable(path, error) from None


def _contents(path: Path) -> list:
    """The names in the folder `path` ([] when it is absent or empty), sorted."""
    try:
        return sorted(entry.name for entry in path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def claim_named(path, key: str = "hydra.run.dir", summary=None) -> Path:
    """A folder chosen by name: refused when it holds a run (finished, crashed or live) or
    any other file; nothing is written before that check. Then created (or the empty one
    taken) with `summary` in it."""
    path = Path(path)
    if holds_run(path):
        raise ConfigError([f"{key}={path}: this folder holds a run already; continue it with "
                           f"`dlrun resume {path.resolve()}`, or choose another folder"])
    found = _contents(path)
    if found:
        listed = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise ConfigError([f"{key}={path}: the folder holds files that are not a dlrun run ({listed}); "
                           "dlrun writes only into a new or empty folder: choose another one"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if summary is None:
            path.mkdir(exist_ok=True)
        else:
            _create(path, summary)
    except FileExistsError:
        raise ConfigError([f"{key}={path}: another run took this folder as this one started; "
                           "choose another folder"]) from None
    except OSError as error:
        raise _unwritable(path, error) from None
    return path


def first_summary(config) -> dict:
    """The summary a run folder is created with (status `running`, the run's resolved config):
    what a run killed before it wrote anything else leaves, and what `dlrun resume` restarts from."""
    from omegaconf import OmegaConf

    from dlrun.training.summary import new_summary

    plain = OmegaConf.to_container(config, resolve=True)
    return new_summary(plain["name"], Path("."), plain, plain["objective"])


def claim(path, named: bool, key: str = "hydra.run.dir", config=None) -> Path:
    """The run folder `path` (named: new or empty; else `path` or `path-N`), created with the
    first summary of `config` (a validated run config) in it, when given."""
    summary = first_summary(config) if config is not None else None
    return claim_named(path, key, summary) if named else claim_new(path, summary)


@contextmanager
def holding(run_dir, take_over_dead: bool = False):
    """Own `run_dir` while inside (owner file + heartbeat); a folder this process holds
    already is held once. ConfigError when another live process owns it (or, unless
    `take_over_dead`, when it held a run before)."""
    key = Path(run_dir).resolve()
    if key in _held:
        yield
        return
    try:
        beat = Heartbeat(run_dir).take(take_over_dead)
    except FolderTaken as error:
        hint = "" if take_over_dead else \
            f"; continue it with `dlrun resume {Path(run_dir).resolve()}` or choose another folder"
        raise ConfigError([f"{error}{hint}"]) from None
    _held[key] = beat
    try:
        yield
    finally:
        _held.pop(key).release()
