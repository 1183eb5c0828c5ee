"""Multi-layer perceptron. Images and vectors are flattened; tokens are embedded then flattened.

For sequence tasks (a target per position) the output is reshaped to (N, T, classes).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlrun.models.layers import TokenEmbedding, activation, norm_1d


class MLP(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        self.spec = spec
        if spec.modality == "tokens":
            self.stem = TokenEmbedding(spec.vocab_size, cfg["width"])
            in_features = spec.input_shape[0] * cfg["width"]
        else:
            self.stem = nn.Identity()
            in_features = math.prod(spec.input_shape)
        layers, width = [], in_features
        for _ in range(cfg["depth"]):
            layers += [nn.Linear(width, cfg["width"]), norm_1d(cfg["norm"], cfg["width"]),
                       activation(cfg["activation"]), nn.Dropout(cfg["dropout"])]
            width = cfg["width"]
        self.body = nn.Sequential(*layers)
        positions = spec.input_shape[0] if spec.task == "sequence" else 1
        self.head = nn.Linear(width, positions * spec.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(1)  # (N, features)
        out = self.head(self.body(x))
        if self.spec.task == "sequence":
            out = out.view(len(x), self.spec.input_shape[0], self.spec.output_dim)  # (N, T, classes)
        return out


def build(cfg, spec) -> nn.Module:
    return MLP(cfg, spec)
