"""A table from a CSV (header row) or an NPZ (named arrays): data.target is the target column,
the other columns (or data.features) the inputs. data.task: classification (the target's
distinct values, sorted, become classes 0..K-1) or regression (a float target). Features are
standardised with the train split's statistics only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from dlrun.data.datasets import require_valid
from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, standardized, tensor_splits
from dlrun.data.transform import IDENTITY
from dlrun.base.errors import ConfigError


def _bad(path: Path, problem: str):
    return ConfigError([f"data.path={str(path)!r}: {problem}"])


def _read_columns(path: Path) -> dict:
    """Column name -> array: (N,) strings for a CSV column; (N,) or (N, k) for an NPZ array."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [row for row in rows[1:] if row]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise _bad(path, f"line {line} has {len(row)} fields; the header has {len(header)}")
    return {name: np.array([row[i] for row in body]) for i, name in enumerate(header)}


def _numeric(path: Path, name: str, values) -> np.ndarray:
    """The column as float32 (N, k); a clear error for text, empty cells, NaN or infinity."""
    values = values.reshape(len(values), -1)
    if values.dtype.kind in "US":
        empty = np.flatnonzero((values == "").any(1))
        if len(empty):
            raise _bad(path, f"column {name!r} has an empty cell in data row {empty[0] + 1}")
        bad = [value for value in values.ravel() if not _is_number(value)]
        if bad:
            raise _bad(path, f"column {name!r} is not numeric ({bad[0]!r}); feature columns must be numbers")
    numbers = values.astype(np.float32)
    missing = np.flatnonzero(~np.isfinite(numbers).all(1))
    if len(missing):
        raise _bad(path, f"column {name!r} has a missing or non-finite value in data row {missing[0] + 1}")
    return numbers


def _is_number(value) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def _targets(path: Path, cfg_data, values):
    """(targets tensor, the classes' values in id order or None)."""
    if cfg_data["task"] == "regression":
        return torch.from_numpy(_numeric(path, cfg_data["target"], values)), None  # (N, target_dim)
    if values.ndim != 1:
        raise _bad(path, f"the classification target {cfg_data['target']!r} must be one column, not {values.shape}")
    if values.dtype.kind in "US" and all(_is_number(value) for value in values):
        values = values.astype(np.float64)  # CSV numbers: sort classes by value, not by text
    classes, labels = np.unique(values, return_inverse=True)
    return torch.from_numpy(labels.astype(np.int64)), classes.tolist()


def load(cfg_data, seed: int) -> Splits:
    require_valid(cfg_data)
    path, target = Path(cfg_data["path"]), cfg_data["target"]
    columns = _read_columns(path)
    names = list(cfg_data.get("features") or [name for name in columns if name != target])
    if not names:
        raise _bad(path, f"no feature columns besides the target {target!r}")
    features = np.concatenate([_numeric(path, name, columns[name]) for name in names], axis=1)  # (N, F)
    targets, classes = _targets(path, cfg_data, columns[target])
    if cfg_data["task"] == "classification":
        spec = DataSpec("vector", "classification", (features.shape[1],), num_classes=max(len(classes), 2))
    else:
        spec = DataSpec("vector", "regression", (features.shape[1],), target_dim=targets.shape[1])
    # new rows are read by these column names, predictions named by these classes (dlrun predict)
    transform = IDENTITY.with_labels(columns=names, classes=classes)
    return standardized(tensor_splits(spec, torch.from_numpy(features), targets, cfg_data, seed, transform=transform))
