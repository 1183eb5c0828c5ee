"""Shared building blocks: activation and normalisation tables, output heads."""

from __future__ import annotations

import torch
from torch import nn

from dlrun.models.choices import ACTIVATIONS
from dlrun.registry import load_object, lookup

# name -> factory(num_features) for feature-last (N, ..., F) tensors
NORMS_1D = {
    "none": lambda width: nn.Identity(),
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
}


def activation(name: str) -> nn.Module:
    return load_object(lookup(ACTIVATIONS, "activation", name))()


def norm_1d(name: str, width: int) -> nn.Module:
    return lookup(NORMS_1D, "norm", name)(width)


class TokenEmbedding(nn.Module):
    """Token ids (N, T) -> vectors (N, T, width)."""

    def __init__(self, vocab_size: int, width: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embed(tokens.long())
