"""A run's checkpoint files as their readers find and trust them.

Paths in summary.json are relative to the run folder (absolute in older runs), so a copied
or moved run folder reads its own files. Next to every checkpoint X.ckpt the writer leaves
X.ckpt.sha256 in sha256sum's format (`<64 hex digits>  X.ckpt`); a reader checks it before
loading. A file without one (an older run's, a copied file, a deleted sidecar) is loaded,
with one line on stderr saying it was not verified: a corrupt file then loads as it is.
Standard library only.

The hpc checkpoints Lightning writes when SLURM warns a job (hpc_ckpt_N.ckpt, in the run
folder) keep theirs in the run folder's hpc_checksums/: Lightning finds the one to resume from
by the digits after "hpc_ckpt_" in every name of the run folder, and would read
hpc_ckpt_1.ckpt.sha256 as version 1256.
"""

from __future__ import annotations

import hashlib
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Optional

from dlrun.base.errors import CheckpointError

SIDECAR_SUFFIX = ".sha256"
HPC_PREFIX = "hpc_ckpt_"  # Lightning's name for a SLURM requeue checkpoint
HPC_SIDECARS = "hpc_checksums"  # no "ckpt_" in it: Lightning's version parse skips it
_CHUNK = 1 << 20


def sidecar(path) -> Path:
    """X.ckpt.sha256 beside X.ckpt; for Lightning's hpc_ckpt_N.ckpt, in hpc_checksums/ beside it."""
    path = Path(path)
    if path.name.startswith(HPC_PREFIX):
        return path.parent / HPC_SIDECARS / (path.name + SIDECAR_SUFFIX)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_text(path, digest: str) -> str:
    """The sidecar's content for checkpoint `path` (sha256sum's format: `sha256sum -c` checks it)."""
    return f"{digest}  {Path(path).name}\n"


@lru_cache(maxsize=64)
def _verified(path: str, modified_ns: int, size: int) -> None:
    """Raises CheckpointError on a mismatch; cached per file version, so validation and the
    load that follows it read the file once."""
    recorded = sidecar(path).read_text(errors="replace").split()
    if not recorded or not re.fullmatch(r"[0-9a-fA-F]{64}", recorded[0]):
        raise CheckpointError(f"{sidecar(path)}: not a SHA-256 checksum file (expected '<64 hex digits>  "
                              f"{Path(path).name}')")
    if sha256_of(path) != recorded[0].lower():
        raise CheckpointError(f"{path}: corrupt: its SHA-256 differs from the one recorded when it was written "
                              f"({sidecar(path).name}); refusing to load it")


# Checkpoints this process loaded without a sidecar, warned about once each.
_UNVERIFIED: set = set()


def _warn_unverified(path) -> None:
    key = str(Path(path).absolute())
    if key not in _UNVERIFIED:
        _UNVERIFIED.add(key)
        print(f"dlrun: warning: {path}: no checksum file ({sidecar(path).name}): loaded without verifying "
              "it (a corrupt file loads as it is)", file=sys.stderr)


def verify_checksum(path) -> None:
    """CheckpointError if `path` does not match its sidecar; without one, a one-line warning
    that it was not verified."""
    try:
        if not sidecar(path).is_file():
            if Path(path).is_file():
                _warn_unverified(path)
            return
        stat = Path(path).stat()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it ({error.strerror or error})") from None
    try:
        _verified(str(path), stat.st_mtime_ns, stat.st_size)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it or its checksum ({error.strerror or error})") from None


def recorded_path(run_dir, recorded) -> Optional[Path]:
    """A file path summary.json recorded, as this run folder's file: relative paths are read
    from the run folder; an older run's absolute path is taken from this folder when the file
    is here (FOLDER/NAME at the same place), so a copied folder does not read the original's."""
    if not recorded:
        return None
    path = Path(recorded)
    if not path.is_absolute():
        return Path(run_dir) / path
    own = Path(run_dir) / path.parent.name / path.name
    return own if own.is_file() else path


def as_recorded(run_dir, path) -> str:
    """How a file path is recorded for a run: relative to the run folder when inside it."""
    try:
        return Path(path).resolve().relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return str(Path(path).absolute())
