"""VGG-style convolutional network for images: stages of 3x3 convolutions (padding 1, so
the size is kept), a 2x2 max-pool after each stage while the image is at least 2x2, the
channel count doubling from stage to stage; then global average pooling and a linear head.
"""

from __future__ import annotations

import torch
from torch import nn

from dlrun.models.layers import activation, image_norm


def conv_unit(cfg, in_channels: int, out_channels: int) -> list:
    """3x3 convolution, norm, activation. No conv bias before a batch norm (it cancels it)."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=cfg["norm"] != "batch"),
            image_norm(cfg["norm"], out_channels), activation(cfg["activation"])]


class CNN(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        channels, height, width = spec.input_shape
        stages = []
        for stage in range(cfg["depth"]):
            out_channels = cfg["width"] * 2 ** stage
            layers = []
            for _ in range(cfg["convs_per_stage"]):
                layers += conv_unit(cfg, channels, out_channels)
                channels = out_channels
            if min(height, width) >= 2:  # small images (8x8 digits) run out of size to pool
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            stages.append(nn.Sequential(*layers))
        self.body = nn.Sequential(*stages)
        self.dropout = nn.Dropout(cfg["dropout"])
        self.head = nn.Linear(channels, spec.output_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.body(images)  # (N, C, H', W')
        pooled = features.mean(dim=(2, 3))  # (N, C): global average pooling
        return self.head(self.dropout(pooled))  # (N, classes) or (N, target_dim)


def build(cfg, spec) -> nn.Module:
    return CNN(cfg, spec)
