"""DataSpec: the one thing a model learns about its data (sizes, modality, task)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

MODALITIES = ("vector", "image", "tokens")
TASKS = ("classification", "regression", "sequence")
IGNORE = -100  # a sequence target that carries no label (cross-entropy's ignore_index skips it)


@dataclass(frozen=True)
class DataSpec:
    """Shapes are per sample (no batch dimension).

    vector: input_shape (features,); image: (C, H, W); tokens: (T,) integer ids < vocab_size.
    classification: one label < num_classes per sample; regression: target_dim floats;
    sequence: one label < num_classes per position (T labels), or IGNORE where a position is
    not scored (e.g. the copy task's input half).
    causal: position t's target may depend only on inputs up to t (next-token prediction), so
    a model must not look ahead.
    """

    modality: str
    task: str
    input_shape: tuple
    num_classes: Optional[int] = None
    vocab_size: Optional[int] = None
    target_dim: Optional[int] = None
    causal: bool = False

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"DataSpec.modality={self.modality!r}; allowed: {', '.join(MODALITIES)}")
        if self.task not in TASKS:
            raise ValueError(f"DataSpec.task={self.task!r}; allowed: {', '.join(TASKS)}")
        if self.modality == "tokens" and not self.vocab_size:
            raise ValueError("DataSpec for tokens needs vocab_size")
        if self.task in ("classification", "sequence") and not self.num_classes:
            raise ValueError(f"DataSpec for {self.task} needs num_classes")
        if self.task == "regression" and not self.target_dim:
            raise ValueError("DataSpec for regression needs target_dim")

    @property
    def output_dim(self) -> int:
        """Width of the model's output per sample (per position for sequence tasks)."""
        return self.target_dim if self.task == "regression" else self.num_classes

    def describe(self) -> str:
        return f"{self.modality} {tuple(self.input_shape)} -> {self.task}"

    def to_dict(self) -> dict:
        return asdict(self)
