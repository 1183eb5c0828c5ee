"""Splits: train/val/test data plus its DataSpec, as produced by every dataset loader."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from dlrun.data.checks import split_problems, split_sizes
from dlrun.data.spec import DataSpec
from dlrun.data.transform import IDENTITY, InputTransform, affine
from dlrun.base.errors import ConfigError


@dataclass
class Splits:
    """Each split is either a (inputs, targets) pair of tensors (served by indexing, the
    fast path) or a torch Dataset (served by a DataLoader with workers). `transform`: how
    the user's raw inputs became these (dlrun.data.transform; `dlrun predict` applies it)."""

    spec: DataSpec
    train: Any
    val: Any
    test: Any
    transform: InputTransform = IDENTITY


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int):
    """Deterministic train/val/test index split from the seed."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    _, n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return train, val, test


def tensor_splits(spec: DataSpec, inputs, targets, cfg_data, seed: int, test=None,
                  transform: InputTransform = IDENTITY) -> Splits:
    """Split preloaded tensors by the config's val/test fractions. With an official `test`
    (inputs, targets) pair, that is the test split: only val is split off the rest, and
    data.test_fraction is not used."""
    test_fraction = 0.0 if test is not None else cfg_data["test_fraction"]
    # e.g. a table with too few rows: a data problem (exit 2), found when its rows are counted
    problems = split_problems(len(inputs), {**cfg_data, "test_fraction": test_fraction}, f"data={cfg_data['name']}")
    if problems:
        raise ConfigError(problems)
    train, val, held_out = split_indices(len(inputs), cfg_data["val_fraction"], test_fraction, seed)
    if test is None:
        test = (inputs[held_out], targets[held_out])
    return Splits(spec, (inputs[train], targets[train]), (inputs[val], targets[val]), test, transform)


def standardized(splits: Splits) -> Splits:
    """Features scaled to zero mean and unit variance with the train split's statistics only
    (no information from val/test leaks into training); constant features are only centred."""
    inputs = splits.train[0]
    mean, std = inputs.mean(0), inputs.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))

    def scale(pair):
        return (pair[0] - mean) / std, pair[1]

    # the raw inputs' transform is this scaling (a table's column names and classes kept)
    transform = replace(affine(mean.tolist(), std.tolist()), columns=splits.transform.columns,
                        classes=splits.transform.classes)
    return Splits(splits.spec, scale(splits.train), scale(splits.val), scale(splits.test), transform)
