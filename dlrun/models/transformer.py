"""Transformer encoder (pre-norm, as in GPT-2 / ViT): tokens embedded, images cut into
patches, vectors as one token per feature (dlrun/models/stems.py); learned or sinusoidal
positions; a causal mask when the data is causal (next-token prediction), so position t
attends to positions <= t only. A sequence task gets logits per position; classification and
regression pool the positions (mean, or the last position when causal).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlrun.models.layers import activation, feature_norm, pool_sequence
from dlrun.models.stems import sequence_stem


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(T, width): sin on even features, cos on odd ones, wavelengths 2pi .. 10000*2pi (Vaswani et al.)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    angles = position * frequency  # (T, ceil(width/2))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : width // 2])
    return table


class Positions(nn.Module):
    """Adds a position vector to every step of (N, T, width)."""

    def __init__(self, kind: str, length: int, width: int):
        super().__init__()
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(length, width) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_positions(length, width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]]  # (N, T, width) + (T, width)


class Block(nn.Module):
    """x + attention(norm(x)), then x + feed_forward(norm(x))."""

    def __init__(self, cfg):
        super().__init__()
        width, hidden = cfg["width"], int(cfg["mlp_ratio"] * cfg["width"])
        self.norm1 = feature_norm(cfg["norm"], width)
        self.attention = nn.MultiheadAttention(width, cfg["heads"], dropout=cfg["dropout"], batch_first=True)
        self.norm2 = feature_norm(cfg["norm"], width)
        self.feed_forward = nn.Sequential(nn.Linear(width, hidden), activation(cfg["activation"]),
                                          nn.Linear(hidden, width), nn.Dropout(cfg["dropout"]))
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x: torch.Tensor, mask) -> torch.Tensor:
        normed = self.norm1(x)
        attended, _ = self.attention(normed, normed, normed, attn_mask=mask, need_weights=False)
        x = x + self.dropout(attended)
        return x + self.feed_forward(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        self.spec = spec
        self.stem, length = sequence_stem(spec, cfg["width"], images="patches", patch_size=cfg["patch_size"])
        self.positions = Positions(cfg["positions"], length, cfg["width"])
        self.body = nn.ModuleList(Block(cfg) for _ in range(cfg["depth"]))
        self.norm = feature_norm(cfg["norm"], cfg["width"])
        self.head = nn.Linear(cfg["width"], spec.output_dim)
        # True above the diagonal: position t may not attend to t' > t
        mask = torch.ones(length, length, dtype=torch.bool).triu(1) if spec.causal else None
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.positions(self.stem(inputs))  # (N, T, width)
        for block in self.body:
            x = block(x, self.mask)
        x = self.norm(x)
        if self.spec.task != "sequence":
            x = pool_sequence(x, self.spec.causal)  # (N, width)
        return self.head(x)  # (N, T, classes) or (N, outputs)


def build(cfg, spec) -> nn.Module:
    return Transformer(cfg, spec)
