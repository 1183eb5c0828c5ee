"""Whether the run (or sweep) folder a config names can be made, checked before anything
is: every folder name within what the filesystem takes, the whole path too, and the
nearest existing folder on the way one this process can create folders in. Standard
library only."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from dlrun.base.errors import shown

NAME_MAX, PATH_MAX = 255, 4096  # where the filesystem does not say (os.pathconf)


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        try:
            os.stat(candidate)
            return candidate
        except OSError:
            continue
    return Path(path.anchor or ".")


def _length_problems(path: Path, existing: Path, key: str, run_name: str) -> list:
    name_max = _limit(existing, "PC_NAME_MAX", NAME_MAX)
    for part in path.relative_to(existing).parts:
        size = len(part.encode())
        if size > name_max and run_name and run_name in part:
            return [f"name={shown(run_name)}: makes the run folder's name {size} bytes long; the filesystem takes "
                    f"at most {name_max}: choose a shorter name=..."]
        if size > name_max:
            return [f"{key}: the folder name {shown(part)!r} has {size} bytes; the filesystem takes at most {name_max}"]
    path_max = _limit(existing, "PC_PATH_MAX", PATH_MAX)
    if len(str(path).encode()) >= path_max:
        return [f"{key}={shown(str(path))}: the path has {len(str(path).encode())} bytes; the filesystem takes at "
                f"most {path_max - 1}"]
    return []


def _creatable_problems(path: Path, existing: Path, key: str) -> list:
    if not existing.is_dir():
        return [f"{key}={shown(str(path))}: {shown(str(existing))} is a file, not a folder"]
    try:  # os.access says yes to root on a read-only mount: make (and remove) a folder to know
        os.rmdir(tempfile.mkdtemp(prefix=".dlrun-check-", dir=existing))
    except OSError as error:
        reason = "read-only filesystem" if error.errno == errno.EROFS else (error.strerror or str(error))
        return [f"{key}={shown(str(path))}: cannot create folders in {shown(str(existing))} ({reason}); "
                f"choose another {key}=..."]
    return []


def folder_problems(path, key: str, run_name: str = "") -> list:
    """Why the folder `path` (set by `key`) cannot be created; [] when it can (or exists)."""
    if path is None or not str(path).strip():  # Path("") is the working folder itself
        return [f"{key}={'' if path is None else path}: an empty folder name; give a folder, or leave {key} out "
                "for a new one under outputs/"]
    path = Path(os.path.abspath(path))
    existing = _nearest_existing(path)
    return _length_problems(path, existing, key, run_name) or _creatable_problems(path, existing, key)


def output_problems(cfg, multirun: bool, key: str | None = None) -> list:
    """The run folder (hydra.run.dir) or, for -m, the sweep folder (hydra.sweep.dir) of a
    config composed with its hydra node; problems name it `key` (default: Hydra's key)."""
    key = key or ("hydra.sweep.dir" if multirun else "hydra.run.dir")
    folder = cfg.hydra.sweep.dir if multirun else cfg.hydra.run.dir
    return folder_problems(folder, key, str(cfg.get("name", "")))
