"""Input stems for the sequence models (rnn family, transformer, tcn): every modality
becomes a sequence of vectors (N, T, width).

tokens: one embedded token per step; images: one row per step (RNN / TCN) or one patch per
step (transformer); vectors: one feature per step ("feature tokens", transformer).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlrun.models.zoo import patch_size_problem
from dlrun.models.layers import TokenEmbedding

# the automatic patch size keeps a transformer's sequence at most this long (attention is T^2)
MAX_AUTO_PATCHES = 64
# ...and aims at patches this many pixels a side (ViT's choice for 28x28 and 32x32 images): one-pixel
# tokens carry a single number each, and a transformer learns 8x8 digits from them far more slowly
# (test acc 0.71 after 20 epochs, against 0.96-0.99 with 4x4 patches)
AUTO_PATCH_SIDE = 4


class ImageRows(nn.Module):
    """(N, C, H, W) -> (N, H, width): row h, all channels, projected to width."""

    def __init__(self, channels: int, image_width: int, width: int):
        super().__init__()
        self.project = nn.Linear(channels * image_width, width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rows = images.permute(0, 2, 1, 3).flatten(2)  # (N, H, C*W)
        return self.project(rows)  # (N, H, width)


class ImagePatches(nn.Module):
    """(N, C, H, W) -> (N, H/p * W/p, width): non-overlapping p x p patches, linearly embedded."""

    def __init__(self, channels: int, patch_size: int, width: int):
        super().__init__()
        self.project = nn.Conv2d(channels, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grid = self.project(images)  # (N, width, H/p, W/p)
        return grid.flatten(2).transpose(1, 2)  # (N, patches, width)


class FeatureTokens(nn.Module):
    """(N, F) -> (N, F, width): feature i becomes x_i * w_i + b_i, its own vector per feature."""

    def __init__(self, features: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(features, width) / math.sqrt(width))
        self.bias = nn.Parameter(torch.zeros(features, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-1) * self.weight + self.bias  # (N, F, 1) * (F, width) -> (N, F, width)


def auto_patch_size(height: int, width: int) -> int:
    """Of the patch sizes dividing both sides that give at most MAX_AUTO_PATCHES patches, the one
    closest to AUTO_PATCH_SIDE (on a log scale; the smaller on a tie); the common side if none does."""
    side = math.gcd(height, width)
    fitting = [size for size in range(1, side + 1)
               if side % size == 0 and (height // size) * (width // size) <= MAX_AUTO_PATCHES]
    if not fitting:
        return side
    return min(fitting, key=lambda size: abs(math.log(size / AUTO_PATCH_SIDE)))


def sequence_stem(spec, width: int, images: str = "rows", patch_size="auto"):
    """(stem, T): a module mapping a batch of this data to (N, T, width), and T."""
    if spec.modality == "tokens":
        return TokenEmbedding(spec.vocab_size, width), spec.input_shape[0]
    if spec.modality == "vector":
        return FeatureTokens(spec.input_shape[0], width), spec.input_shape[0]
    channels, height, image_width = spec.input_shape
    if images == "rows":
        return ImageRows(channels, image_width, width), height
    size = auto_patch_size(height, image_width) if patch_size == "auto" else patch_size
    problem = patch_size_problem(size, height, image_width)
    if problem:
        raise ValueError(problem)
    return ImagePatches(channels, size, width), (height // size) * (image_width // size)
