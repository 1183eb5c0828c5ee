"""Shared building blocks: activations and norms by name, token embedding, sequence pooling."""

from __future__ import annotations

import torch
from torch import nn

from dlrun.models.zoo import ACTIVATIONS
from dlrun.base.options import load_object, lookup


class FeatureBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the last dimension of (N, ..., F) tensors: every position of every
    sample is one observation (nn.BatchNorm1d alone wants the features second)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view_as(x)  # (N*..., F) -> (N, ..., F)


# name -> factory(num_features) for feature-last (N, ..., F) tensors
FEATURE_NORMS = {
    "none": lambda width: nn.Identity(),
    "batch": FeatureBatchNorm,
    "layer": nn.LayerNorm,
}

# name -> factory(channels) for channel-first images (N, C, H, W); "layer" normalises each
# sample over (C, H, W), i.e. GroupNorm with one group
IMAGE_NORMS = {
    "none": lambda channels: nn.Identity(),
    "batch": nn.BatchNorm2d,
    "layer": lambda channels: nn.GroupNorm(1, channels),
}


def activation(name: str) -> nn.Module:
    return load_object(lookup(ACTIVATIONS, "activation", name))()


def feature_norm(name: str, width: int) -> nn.Module:
    return lookup(FEATURE_NORMS, "norm", name)(width)


def image_norm(name: str, channels: int) -> nn.Module:
    return lookup(IMAGE_NORMS, "norm", name)(channels)


class TokenEmbedding(nn.Module):
    """Token ids (N, T) -> vectors (N, T, width)."""

    def __init__(self, vocab_size: int, width: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embed(tokens.long())


def pool_sequence(x: torch.Tensor, causal: bool) -> torch.Tensor:
    """(N, T, F) -> (N, F) for a per-sample output: a causal model's last position is the
    one that has seen the whole sequence; otherwise the mean over positions."""
    return x[:, -1] if causal else x.mean(1)
