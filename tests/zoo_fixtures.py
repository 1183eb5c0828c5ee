"""Per-dataset test setup: the overrides that make a dataset tiny, writing any files it reads.

Every dataset in dlrun.data.registry.DATASETS needs an entry here (a test checks that), so
the model x data matrix covers it. FACTORY(tmp_path) -> list of Hydra overrides.
"""

from __future__ import annotations

from pathlib import Path


def _digits(tmp_path: Path) -> list:
    return ["data=digits", "data.batch_size=32"]


DATASET_OVERRIDES = {
    "digits": _digits,
}


def dataset_overrides(name: str, tmp_path: Path) -> list:
    return DATASET_OVERRIDES[name](Path(tmp_path))
