"""The dataset table: name -> loader, the (modality, task) it produces, and its file checks.

The kind is known from the config alone, before any data is read, so validation can
reject a model that cannot consume the data without loading anything. Importing this
module does not import torch (validation and `dlrun ls` use it).

A user's own data (a config with `_target_`) is not in the table: dlrun.data.custom loads
it, and what it is (modality, task) is what its config declares or its arrays show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from dlrun.base.errors import ConfigError
from dlrun.base.options import load_object, lookup, unknown_name_message


@dataclass(frozen=True)
class DataEntry:
    loader: str  # "module:function"; function(cfg_data, seed) -> dlrun.data.splits.Splits
    modality: str
    # the tasks this data can pose; with several, data.task picks one (its YAML sets the default)
    tasks: tuple
    # "module:function"; function(cfg_data) -> list of problems. Runs at validation: stdlib only.
    check: Optional[str] = None
    # next-token data: a model must not read ahead (validation refuses bidirectional models)
    causal: bool = False
    # "module:function"; function(cfg_data) -> samples to split, or None (dlrun.data.sizes)
    size: Optional[str] = None
    # the files hold a test split: only val is split off, data.test_fraction is not used
    official_test: bool = False

    def kind(self, cfg_data: Mapping) -> tuple:
        return self.modality, cfg_data.get("task") or self.tasks[0]


def _generated(loader: str, modality: str, *tasks: str) -> DataEntry:
    return DataEntry(loader, modality, tasks, "dlrun.data.checks:generated", size="dlrun.data.sizes:generated")


def _published_images(check: str, size: str) -> DataEntry:
    return DataEntry("dlrun.data.images:load", *_IMAGE, check, size=size, official_test=True)


_IMAGE = ("image", ("classification",))
DATASETS: dict[str, DataEntry] = {
    "digits": DataEntry("dlrun.data.digits:load", *_IMAGE, size="dlrun.data.sizes:digits"),
    "moons": _generated("dlrun.data.toys:load", "vector", "classification"),
    "circles": _generated("dlrun.data.toys:load", "vector", "classification"),
    "blobs": _generated("dlrun.data.toys:load", "vector", "classification"),
    "copy": _generated("dlrun.data.sequences:load", "tokens", "sequence"),
    "reverse": _generated("dlrun.data.sequences:load", "tokens", "sequence"),
    "sort": _generated("dlrun.data.sequences:load", "tokens", "sequence"),
    "parity": _generated("dlrun.data.sequences:load", "tokens", "classification", "sequence"),
    "adding": _generated("dlrun.data.sequences:load", "tokens", "regression", "classification"),
    "brackets": _generated("dlrun.data.sequences:load", "tokens", "classification"),
    "text": DataEntry("dlrun.data.text:load", "tokens", ("sequence",), "dlrun.data.checks:text", causal=True,
                      size="dlrun.data.sizes:text"),
    "table": DataEntry("dlrun.data.table:load", "vector", ("classification", "regression"), "dlrun.data.checks:table",
                       size="dlrun.data.sizes:table"),
    "mnist": _published_images("dlrun.data.checks:idx_images", "dlrun.data.sizes:idx_images"),
    "fashion_mnist": _published_images("dlrun.data.checks:idx_images", "dlrun.data.sizes:idx_images"),
    "cifar10": _published_images("dlrun.data.checks:cifar10", "dlrun.data.sizes:cifar10"),
}


def data_entry(name: str) -> DataEntry:
    return lookup(DATASETS, "dataset", name)


def is_own_data(cfg_data: Mapping) -> bool:
    return "_target_" in cfg_data


def data_kind(cfg_data: Mapping) -> tuple:
    """(modality, task) that data config will produce (for a user's data, what it declares:
    None where it leaves them to be inferred)."""
    if is_own_data(cfg_data):
        return cfg_data.get("modality"), cfg_data.get("task")
    return data_entry(cfg_data["name"]).kind(cfg_data)


def data_problems(cfg_data: Mapping) -> list:
    """What is wrong with a data config that its rules cannot see: a task this data cannot
    pose, too few samples for the splits, missing or malformed files. Empty when fine.
    A user's own data was checked with its knobs before (dlrun.config.own_code)."""
    if is_own_data(cfg_data):
        return []
    if cfg_data["name"] not in DATASETS:
        return [f"data.name: {unknown_name_message('dataset', cfg_data['name'], DATASETS)} "
                "(or give your own data a _target_)"]
    entry = data_entry(cfg_data["name"])
    task = entry.kind(cfg_data)[1]
    if task not in entry.tasks:
        return [f"data.task={task!r}: data={cfg_data['name']} poses {' or '.join(entry.tasks)} tasks"]
    problems = load_object(entry.check)(cfg_data) if entry.check else []
    return problems or _split_problems(cfg_data, entry)


def _split_fractions(cfg_data: Mapping, entry: DataEntry) -> dict:
    return {**cfg_data, "test_fraction": 0.0} if entry.official_test else dict(cfg_data)


def _split_problems(cfg_data: Mapping, entry: DataEntry) -> list:
    """Every split gets a sample: counted where the size is known, else by the fractions."""
    from dlrun.data.checks import split_problems

    fractions = _split_fractions(cfg_data, entry)
    n = sample_count(cfg_data)
    if n is not None:
        return split_problems(n, fractions, f"data={cfg_data['name']}")
    if fractions["val_fraction"] + fractions["test_fraction"] < 1:
        return []
    return [f"data.val_fraction={fractions['val_fraction']} and data.test_fraction={fractions['test_fraction']} "
            "leave no training samples: their sum must be below 1"]


def sample_count(cfg_data: Mapping):
    """Samples the config's data splits, where cheap to know before loading; else None."""
    entry = data_entry(cfg_data["name"])
    return load_object(entry.size)(cfg_data) if entry.size else None


def train_samples(cfg_data: Mapping):
    """Samples in the train split, where cheap to know before loading; else None."""
    from dlrun.data.checks import split_sizes

    if is_own_data(cfg_data):  # a user's data is counted when it loads
        return None
    entry, n = data_entry(cfg_data["name"]), sample_count(cfg_data)
    if n is None:
        return None
    fractions = _split_fractions(cfg_data, entry)
    return split_sizes(n, fractions["val_fraction"], fractions["test_fraction"])[0]


def require_valid(cfg_data: Mapping) -> None:
    """Raise ConfigError if the data config (or its files) has problems; loaders call it
    after a download, when files that validation skipped are there."""
    problems = data_problems(cfg_data)
    if problems:
        raise ConfigError(problems)


def load_splits(cfg_data: Mapping, seed: int):
    loader = "dlrun.data.custom:load" if is_own_data(cfg_data) else data_entry(cfg_data["name"]).loader
    return load_object(loader)(cfg_data, seed)
