"""InputTransform: how inputs as a user has them (pixels 0..16, a table's raw columns, text)
become the tensors a model trained on, and how its class ids read back as the user's labels.

Every dataset loader says it (dlrun.data.splits.Splits.transform), the DataModule exposes it,
and the TaskModule keeps it with the config and the DataSpec in its hyperparameters, so a
checkpoint alone turns new raw data into model inputs (`dlrun predict`). It is plain data
(to_dict / from_dict: a checkpoint loads with weights_only); it is not part of the DataSpec,
because two datasets of one spec (eval's data=...) may scale their inputs differently.

    affine:     model input = (raw - shift) / scale; shift and scale are one number, one per
                feature (vectors) or one per channel (images)
    characters: text; a character's id is its position in `characters`
    identity:   inputs are used as given (token ids, a user's own data)

`columns` names a table's feature columns (a CSV of new rows is read by name); `classes`
names a table's classes in id order (predictions read as the labels of the file).
Standard library and numpy only: `dlrun predict`'s argument checks need no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Optional

import numpy as np

from dlrun.base.errors import BadInput, shown

KINDS = ("affine", "characters", "identity")


@dataclass(frozen=True)
class InputTransform:
    kind: str = "identity"
    shift: Optional[tuple] = None
    scale: Optional[tuple] = None
    characters: Optional[str] = None
    columns: Optional[tuple] = None
    classes: Optional[tuple] = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"InputTransform.kind={self.kind!r}; allowed: {', '.join(KINDS)}")

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, saved: dict) -> "InputTransform":
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in saved.items()})

    def with_labels(self, columns=None, classes=None) -> "InputTransform":
        return replace(self, columns=tuple(columns) if columns is not None else self.columns,
                       classes=tuple(_plain(c) for c in classes) if classes is not None else self.classes)

    def scaled(self, raw: np.ndarray, image: bool) -> np.ndarray:
        """Raw float inputs (N, *shape) as the model saw its data."""
        if self.kind != "affine":
            return raw
        shift, scale = np.asarray(self.shift, np.float32), np.asarray(self.scale, np.float32)
        if image and shift.size > 1:  # per channel: (C,) -> (C, 1, 1)
            shift, scale = shift.reshape(-1, 1, 1), scale.reshape(-1, 1, 1)
        return (raw - shift) / scale

    def encoded(self, text: str, where: str) -> np.ndarray:
        """A text's character ids (T,); BadInput naming the first character the run never saw."""
        ids = {character: index for index, character in enumerate(self.characters)}
        unknown = sorted({character for character in text if character not in ids})
        if unknown:
            raise BadInput(f"{where}: character {unknown[0]!r} is not in the run's vocabulary "
                           f"({len(unknown)} unknown; the run knows {len(ids)}: {shown(repr(self.characters))})")
        return np.array([ids[character] for character in text], dtype=np.int64)


def _plain(value):
    """A numpy scalar as the plain Python value a checkpoint's weights_only load accepts (a
    CSV's class 1.0 as 1, as the file wrote it)."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


IDENTITY = InputTransform()


def affine(shift, scale) -> InputTransform:
    """(raw - shift) / scale, shift and scale numbers or per-feature / per-channel sequences."""
    def numbers(values):
        return tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=np.float64)))

    return InputTransform("affine", shift=numbers(shift), scale=numbers(scale))


def characters(table) -> InputTransform:
    return InputTransform("characters", characters="".join(table))
