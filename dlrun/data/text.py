"""Char-level text from a file: next-character prediction (tokens in, a target per position,
causal). The text is cut into non-overlapping windows of data.seq_len + 1 characters (input =
the first seq_len, target = the last seq_len), and windows are split train/val/test by the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlrun.data.registry import require_valid
from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, tensor_splits


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        from dlrun.schema import ConfigError

        raise ConfigError([f"data.path={str(path)!r}: not UTF-8 text ({error.reason} at byte {error.start})"]) from None


def load(cfg_data, seed: int) -> Splits:
    require_valid(cfg_data)
    path, seq_len = Path(cfg_data["path"]), cfg_data["seq_len"]
    text = read_text(path)
    # ids are the characters' ranks by code point: the same file always gives the same ids
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    characters, ranks = np.unique(codes, return_inverse=True)
    ids = torch.from_numpy(ranks.astype(np.int64))  # (chars,)
    windows = (len(ids) - 1) // seq_len
    if windows < 1:
        from dlrun.schema import ConfigError

        raise ConfigError([f"data.path={str(path)!r}: the text has {len(text)} characters, too short for "
                           f"data.seq_len={seq_len} (one window needs {seq_len + 1})"])
    inputs = ids[: windows * seq_len].view(windows, seq_len)  # (W, T)
    targets = ids[1 : windows * seq_len + 1].view(windows, seq_len)  # (W, T): the next character
    spec = DataSpec("tokens", "sequence", (seq_len,), num_classes=len(characters), vocab_size=len(characters),
                    causal=True)
    return tensor_splits(spec, inputs, targets, cfg_data, seed)
