"""The dataset table: name -> loader, the (modality, task) it produces, and its file checks.

The kind is known from the config alone, before any data is read, so validation can
reject a model that cannot consume the data without loading anything. Importing this
module does not import torch (validation and `dlrun ls` use it).

A user's own data (a config with `_target_`) is not in the table: dlrun.data.custom loads
it, and what it is (modality, task) is what its config declares or its arrays show.
Each dataset declares its knobs once in DATASETS (defaults in conf/data/NAME.yaml; the split
knobs every dataset takes in conf/data/split/standard.yaml): adding one is its loader module,
its entry here and its YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from dlrun.base.errors import ConfigError
from dlrun.base.options import Group, Knob, Option, load_object, lookup, unknown_name_message
from dlrun.base.rules import BOOLEAN, SEED_LIMIT, Rule, integer, number, one_of, text
from dlrun.data.spec import TASKS


@dataclass(frozen=True, kw_only=True)
class DataEntry(Option):
    # impl: "module:function"; function(cfg_data, seed) -> dlrun.data.splits.Splits
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
    # (height, width) of every image, where the dataset fixes it: validation checks patch sizes against it
    image_size: Optional[tuple] = None

    def kind(self, cfg_data: Mapping) -> tuple:
        return self.modality, cfg_data.get("task") or self.tasks[0]


_CHECKSUMS = Rule(lambda v: v is None or (isinstance(v, dict) and all(
    isinstance(c, str) and c.partition(":")[0] in ("md5", "sha256") and c.partition(":")[2] for c in v.values())),
    "null or {FILE: 'sha256:HEX' or 'md5:HEX'}")
DATA_KNOBS = {
    "batch_size": Knob(integer(1), "samples per training step", required=True),
    "val_fraction": Knob(number(0, 1, low_open=True, high_open=True), "fraction of the samples held out for validation",
                         required=True),
    "test_fraction": Knob(number(0, 1, high_open=True), "fraction held out for testing (not where the data has a test split)",
                          required=True),
    "num_workers": Knob(integer(0), "DataLoader workers (file-backed data only)"),
    "seed": Knob(integer(0, SEED_LIMIT - 1), "draws the train/val/test split and the batch order (default: the run's seed)"),
    "task": Knob(one_of(TASKS), "which task the data poses, where it can pose several"),
    "n_samples": Knob(integer(1), "samples generated"),
    "noise": Knob(number(0), "standard deviation of the noise"),
    "factor": Knob(number(0, 1, low_open=True, high_open=True), "inner radius / outer radius"),
    "centers": Knob(integer(2), "blobs (classes)"),
    "n_features": Knob(integer(1), "input features"),
    "length": Knob(integer(2), "sequence length"),
    "delay": Knob(integer(0), "blank steps between the symbols and the recall cue"),
    "vocab": Knob(integer(1), "distinct tokens"),
    "seq_len": Knob(integer(1), "characters per training window"),
    "path": Knob(text("a file path (data.path=FILE)"), "the file to read"),
    "target": Knob(text("a column name (data.target=COLUMN)"), "the target column (array) name"),
    "features": Knob(Rule(lambda v: v is None or (isinstance(v, (list, tuple)) and all(isinstance(n, str) for n in v)),
                          "null (every column but the target) or a list of column names"),
                     "feature columns; null: every other column"),
    "root": Knob(text("a folder path"), "the folder holding the published files"),
    "in_memory": Knob(BOOLEAN, "preload float tensors (false: DataLoader workers read the files)"),
    "download": Knob(BOOLEAN, "fetch missing files from data.mirror, checksums verified"),
    "mirror": Knob(Rule(lambda v: v is None or (isinstance(v, str) and "://" in v), "null or a URL (https://host/folder/)"),
                   "null: the published location; or a URL folder holding the same files"),
    "checksums": Knob(_CHECKSUMS, "null: the published checksums; or your own files' checksums"),
}
SPLIT_KNOBS = ("batch_size", "val_fraction", "test_fraction", "num_workers", "seed")  # conf/data/split/standard.yaml
_PUBLISHED = ("root", "in_memory", "download", "mirror", "checksums")


def _generated(loader: str, modality: str, tasks: tuple, knobs: tuple) -> DataEntry:
    return DataEntry(impl=loader, modality=modality, tasks=tasks, knobs=knobs,
                     check="dlrun.data.checks:generated", size="dlrun.data.sizes:generated")


def _toy(*knobs: str) -> DataEntry:
    return _generated("dlrun.data.toys:load", "vector", ("classification",), ("n_samples", "noise") + knobs)


def _sequence(tasks: tuple, *knobs: str) -> DataEntry:
    return _generated("dlrun.data.sequences:load", "tokens", tasks, knobs + ("vocab", "n_samples"))


def _published_images(check: str, size: str, image_size: tuple) -> DataEntry:
    return DataEntry(impl="dlrun.data.images:load", modality="image", tasks=("classification",), check=check,
                     size=size, official_test=True, knobs=_PUBLISHED, image_size=image_size)


DATASETS: dict[str, DataEntry] = {
    "digits": DataEntry(impl="dlrun.data.digits:load", modality="image", tasks=("classification",),
                        size="dlrun.data.sizes:digits", image_size=(8, 8)),
    "moons": _toy(),
    "circles": _toy("factor"),
    "blobs": _toy("centers", "n_features"),
    "copy": _sequence(("sequence",), "length", "delay"),
    "reverse": _sequence(("sequence",), "length"),
    "sort": _sequence(("sequence",), "length"),
    "parity": _sequence(("classification", "sequence"), "task", "length"),
    "adding": _sequence(("regression", "classification"), "task", "length"),
    "brackets": _sequence(("classification",), "length"),
    "text": DataEntry(impl="dlrun.data.text:load", modality="tokens", tasks=("sequence",), check="dlrun.data.checks:text",
                      causal=True, size="dlrun.data.sizes:text", knobs=("path", "seq_len")),
    "table": DataEntry(impl="dlrun.data.table:load", modality="vector", tasks=("classification", "regression"),
                       check="dlrun.data.checks:table", size="dlrun.data.sizes:table",
                       knobs=("path", "target", "task", "features")),
    "mnist": _published_images("dlrun.data.checks:idx_images", "dlrun.data.sizes:idx_images", (28, 28)),
    "fashion_mnist": _published_images("dlrun.data.checks:idx_images", "dlrun.data.sizes:idx_images", (28, 28)),
    "cifar10": _published_images("dlrun.data.checks:cifar10", "dlrun.data.sizes:cifar10", (32, 32)),
}

# an unknown dataset name is reported by data_problems, which also allows a user's _target_
DATA = Group("data", DATASETS, DATA_KNOBS, common=SPLIT_KNOBS, checks_name=False)


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
    loader = "dlrun.data.custom:load" if is_own_data(cfg_data) else data_entry(cfg_data["name"]).impl
    return load_object(loader)(cfg_data, seed)
