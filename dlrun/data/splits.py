"""Splits: train/val/test data plus its DataSpec, as produced by every dataset loader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from dlrun.data.spec import DataSpec


@dataclass
class Splits:
    """Each split is either a (inputs, targets) pair of tensors (served by indexing, the
    fast path) or a torch Dataset (served by a DataLoader with workers)."""

    spec: DataSpec
    train: Any
    val: Any
    test: Any


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int):
    """Deterministic train/val/test index split from the seed."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return train, val, test


def tensor_splits(spec: DataSpec, inputs, targets, cfg_data, seed: int) -> Splits:
    """Split preloaded tensors by the config's val/test fractions."""
    train, val, test = split_indices(len(inputs), cfg_data["val_fraction"], cfg_data["test_fraction"], seed)
    return Splits(spec, (inputs[train], targets[train]), (inputs[val], targets[val]), (inputs[test], targets[test]))
