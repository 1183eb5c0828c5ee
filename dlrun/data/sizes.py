"""How many samples a data config holds, known before anything is loaded where that is
cheap (a config value, a constant, a file header, a small file counted): validation uses
it to check that every split gets samples and how many batches an epoch has.

Each function returns the number of samples the val/test fractions split (for data with an
official test split, the training files' samples), or None when only loading would tell.
Standard library only, like dlrun.data.checks.
"""

from __future__ import annotations

import struct
from pathlib import Path

from dlrun.data.checks import IDX_FILES, cifar_source, idx_path, read_idx_bytes, table_rows

# Files larger than this are not read to count their samples at validation.
CHEAP_BYTES = 16 * 2**20
DIGITS_SAMPLES = 1797  # scikit-learn's handwritten digits
CIFAR_TRAIN_SAMPLES = 50_000  # five batches of 10,000


def generated(cfg_data):
    return cfg_data["n_samples"]


def digits(cfg_data):
    return DIGITS_SAMPLES


def _small_file(cfg_data):
    """data.path when it names a readable file small enough to count, else None."""
    try:
        path = Path(cfg_data["path"])
        return path if path.is_file() and path.stat().st_size <= CHEAP_BYTES else None
    except (OSError, TypeError):
        return None


def text(cfg_data):
    """Windows of seq_len + 1 characters (as dlrun.data.text cuts them)."""
    path = _small_file(cfg_data)
    try:
        characters = len(path.read_text(encoding="utf-8")) if path else None
    except (OSError, UnicodeDecodeError):
        return None
    return None if characters is None else max(0, (characters - 1) // cfg_data["seq_len"])


def table(cfg_data):
    path = _small_file(cfg_data)
    try:
        return table_rows(path, cfg_data["target"]) if path else None
    except Exception:  # a malformed file: its check says what is wrong
        return None


def idx_images(cfg_data):
    """The count in the training images' IDX header."""
    images = idx_path(Path(cfg_data["root"]), IDX_FILES["train"][0])
    try:
        head = read_idx_bytes(images, 8) if images else b""
    except (OSError, EOFError):
        return None
    return struct.unpack(">I", head[4:8])[0] if len(head) == 8 else None


def cifar10(cfg_data):
    try:
        present = cifar_source(Path(cfg_data["root"])) is not None
    except OSError:
        return None
    return CIFAR_TRAIN_SAMPLES if present or cfg_data.get("download") else None
