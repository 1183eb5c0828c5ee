"""Multi-layer perceptron. Images and vectors are flattened; tokens are embedded then flattened.

For sequence tasks (a target per position) the output is reshaped to (N, T, classes).
For causal data (next-token prediction) the same network is applied at every position t to
the window of the T tokens ending at t (zeros before the start), so no output sees a later
token: Bengio et al.'s neural language model, with the window as long as the sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlrun.models.layers import TokenEmbedding, activation, feature_norm


class MLP(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        self.spec = spec
        self.windowed = spec.causal and spec.modality == "tokens" and spec.task == "sequence"
        if spec.modality == "tokens":
            self.stem = TokenEmbedding(spec.vocab_size, cfg["width"])
            in_features = spec.input_shape[0] * cfg["width"]
        else:
            self.stem = nn.Identity()
            in_features = math.prod(spec.input_shape)
        layers, width = [], in_features
        for _ in range(cfg["depth"]):
            layers += [nn.Linear(width, cfg["width"]), feature_norm(cfg["norm"], cfg["width"]),
                       activation(cfg["activation"]), nn.Dropout(cfg["dropout"])]
            width = cfg["width"]
        self.body = nn.Sequential(*layers)
        positions = spec.input_shape[0] if spec.task == "sequence" and not self.windowed else 1
        self.head = nn.Linear(width, positions * spec.output_dim)

    def _causal_windows(self, embedded: torch.Tensor) -> torch.Tensor:
        """(N, T, E) -> (N, T, T*E): at position t, the embeddings of tokens t-T+1 .. t."""
        length = embedded.shape[1]
        padded = F.pad(embedded, (0, 0, length - 1, 0))  # (N, 2T-1, E): zeros before the start
        windows = padded.unfold(1, length, 1)  # (N, T, E, T): window t holds steps t .. t+T-1 of padded
        return windows.transpose(2, 3).flatten(2)  # (N, T, T*E), oldest token first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.windowed:
            return self.head(self.body(self._causal_windows(self.stem(x))))  # (N, T, classes)
        x = self.stem(x).flatten(1)  # (N, features)
        out = self.head(self.body(x))
        if self.spec.task == "sequence":
            out = out.view(len(x), self.spec.input_shape[0], self.spec.output_dim)  # (N, T, classes)
        return out


def build(cfg, spec) -> nn.Module:
    return MLP(cfg, spec)
