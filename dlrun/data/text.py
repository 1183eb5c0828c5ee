"""Char-level text from a file: next-character prediction (tokens in, a target per position,
causal). The text is cut into non-overlapping windows of data.seq_len + 1 characters (input =
the first seq_len, target = the last seq_len), and windows are split train/val/test by the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlrun.data.checks import read_utf8, text_length_problems
from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, tensor_splits
from dlrun.data.transform import characters as character_table
from dlrun.base.errors import ConfigError


def load(cfg_data, seed: int) -> Splits:
    path, seq_len = Path(cfg_data["path"]), cfg_data["seq_len"]
    # read once; validation may have judged a big file by its size alone, so check what was read
    text, problems = read_utf8(path)
    problems = problems or text_length_problems(len(text), path, cfg_data)
    if problems:
        raise ConfigError(problems)
    # ids are the characters' ranks by code point: the same file always gives the same ids
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    characters, ranks = np.unique(codes, return_inverse=True)
    ids = torch.from_numpy(ranks.astype(np.int64))  # (chars,)
    windows = (len(ids) - 1) // seq_len
    inputs = ids[: windows * seq_len].view(windows, seq_len)  # (W, T)
    targets = ids[1 : windows * seq_len + 1].view(windows, seq_len)  # (W, T): the next character
    spec = DataSpec("tokens", "sequence", (seq_len,), num_classes=len(characters), vocab_size=len(characters),
                    causal=True)
    # the id -> character table, kept with the checkpoint: new text is encoded without the corpus
    table = [chr(code) for code in characters.tolist()]
    return tensor_splits(spec, inputs, targets, cfg_data, seed, transform=character_table(table))
