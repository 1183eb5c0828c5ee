"""Temporal convolutional network (Bai et al. 2018; WaveNet's dilated causal convolutions):
residual blocks of two causal convolutions, block i dilated by 2^i, so the receptive field
1 + 2 (kernel_size - 1) (2^depth - 1) grows exponentially with depth. Causal: the output at
step t depends on steps <= t only. Tokens are embedded, images read one row per step.
A sequence task gets logits per step; classification and regression read the last step.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from dlrun.models.layers import activation, feature_norm
from dlrun.models.stems import sequence_stem

log = logging.getLogger("dlrun")


class CausalConv(nn.Module):
    """(N, T, C) -> (N, T, C): a dilated convolution over time padded on the left only."""

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.transpose(1, 2), (self.left_pad, 0))  # (N, C, pad + T)
        return self.conv(x).transpose(1, 2)  # (N, C, T) -> (N, T, C)


class TemporalBlock(nn.Module):
    """act(x + [conv, norm, act, dropout] x 2)."""

    def __init__(self, cfg, dilation: int):
        super().__init__()
        layers = []
        for _ in range(2):
            layers += [CausalConv(cfg["width"], cfg["kernel_size"], dilation), feature_norm(cfg["norm"], cfg["width"]),
                       activation(cfg["activation"]), nn.Dropout(cfg["dropout"])]
        self.layers = nn.Sequential(*layers)
        self.act = activation(cfg["activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.layers(x))


def receptive_field(kernel_size: int, depth: int) -> int:
    return 1 + 2 * (kernel_size - 1) * (2 ** depth - 1)


class TCN(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        self.spec = spec
        self.stem, length = sequence_stem(spec, cfg["width"], images="rows")
        field = receptive_field(cfg["kernel_size"], cfg["depth"])
        if field < length:
            log.warning("model=tcn sees %d steps back (kernel_size=%d, depth=%d) but sequences are %d long; "
                        "raise model.depth to see whole sequences", field, cfg["kernel_size"], cfg["depth"], length)
        self.body = nn.Sequential(*(TemporalBlock(cfg, dilation=2 ** index) for index in range(cfg["depth"])))
        self.head = nn.Linear(cfg["width"], spec.output_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.body(self.stem(inputs))  # (N, T, width)
        if self.spec.task != "sequence":
            x = x[:, -1]  # (N, width): the last step has seen the whole (receptive field of the) sequence
        return self.head(x)  # (N, T, classes) or (N, outputs)


def build(cfg, spec) -> nn.Module:
    return TCN(cfg, spec)
