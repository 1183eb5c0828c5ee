"""The dataset table: name -> loader and the (modality, task) it produces.

The kind is known from the config alone, before any data is read, so validation can
reject a model that cannot consume the data without loading anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from dlrun.registry import load_object, lookup


def fixed(modality: str, task: str) -> Callable[[Mapping], tuple]:
    return lambda cfg: (modality, task)


@dataclass(frozen=True)
class DataEntry:
    loader: str  # "module:function"; function(cfg_data, seed) -> dlrun.data.splits.Splits
    kind: Callable[[Mapping], tuple]  # cfg_data -> (modality, task)


DATASETS: dict[str, DataEntry] = {
    "digits": DataEntry("dlrun.data.digits:load", fixed("image", "classification")),
}


def data_entry(name: str) -> DataEntry:
    return lookup(DATASETS, "dataset", name)


def data_kind(cfg_data: Mapping) -> tuple:
    """(modality, task) that data config will produce."""
    return data_entry(cfg_data["name"]).kind(cfg_data)


def load_splits(cfg_data: Mapping, seed: int):
    return load_object(data_entry(cfg_data["name"]).loader)(cfg_data, seed)
