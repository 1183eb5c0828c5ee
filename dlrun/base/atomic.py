"""Writes that cannot destroy what was there: a temporary file in the same folder, flushed to
disk, then renamed over the target. A kill or a full disk mid-write leaves the previous good
file in place; two processes never write the same temporary (its name holds pid and thread).
"""

from __future__ import annotations

import errno
import os
import threading
from contextlib import contextmanager
from pathlib import Path


class OutOfSpace(OSError):
    """The disk (or quota) is full: str() names the file that could not be written."""


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


@contextmanager
def replacing(path, mode: str = "w", **open_kwargs):
    """Open a temporary beside `path` for writing; on a clean exit it replaces `path` atomically.
    On any error the temporary is removed and `path` is untouched."""
    path = Path(path)
    temporary = temporary_name(path)
    try:
        with open(temporary, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutOfSpace(error.errno, f"no space left to write {path}") from error
        raise


def write_text(path, text: str) -> Path:
    with replacing(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    with replacing(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def is_out_of_space(error: BaseException) -> bool:
    """True for a full disk anywhere in the exception's chain."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__ or error.__context__
    return False
