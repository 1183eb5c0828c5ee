"""Residual network for images (He et al. 2016, the CIFAR variant): a 3x3 stem, then
`stages` stages of `depth` basic blocks (two 3x3 convolutions each), channels doubling and
the image halving at the start of every stage after the first; global average pooling and a
linear head. Conv layers: 1 + 2 * stages * depth.

`residual: false` drops the skip connections and nothing else: the shortcut has no
parameters (identity, or subsample + zero channels where the shape changes: the paper's
option A), so both variants have the same depth and the same parameters, which is what a
depth study of the degradation problem needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlrun.models.layers import activation, image_norm


def conv3x3(cfg, in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    # no conv bias before a batch norm (it cancels it)
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=cfg["norm"] != "batch")


class BasicBlock(nn.Module):
    def __init__(self, cfg, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.residual, self.stride = cfg["residual"], stride
        self.extra_channels = out_channels - in_channels
        self.conv1 = conv3x3(cfg, in_channels, out_channels, stride)
        self.norm1 = image_norm(cfg["norm"], out_channels)
        self.act1 = activation(cfg["activation"])
        self.conv2 = conv3x3(cfg, out_channels, out_channels)
        self.norm2 = image_norm(cfg["norm"], out_channels)
        self.act2 = activation(cfg["activation"])

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """x shaped like the block's output, without parameters."""
        x = x[:, :, :: self.stride, :: self.stride]  # (N, C_in, H/stride, W/stride)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # (N, C_out, H', W'): new channels are zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        if self.residual:
            out = out + self.shortcut(x)
        return self.act2(out)


class ResNet(nn.Module):
    def __init__(self, cfg, spec):
        super().__init__()
        channels, height, width = spec.input_shape
        self.stem = nn.Sequential(conv3x3(cfg, channels, cfg["width"]), image_norm(cfg["norm"], cfg["width"]),
                                  activation(cfg["activation"]))
        blocks, channels, side = [], cfg["width"], min(height, width)
        for stage in range(cfg["stages"]):
            out_channels = cfg["width"] * 2 ** stage
            for index in range(cfg["depth"]):
                stride = 2 if stage > 0 and index == 0 and side >= 2 else 1  # small images stop halving at 1x1
                blocks.append(BasicBlock(cfg, channels, out_channels, stride))
                channels, side = out_channels, (side + stride - 1) // stride
        self.body = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(cfg["dropout"])
        self.head = nn.Linear(channels, spec.output_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.body(self.stem(images))  # (N, C, H', W')
        pooled = features.mean(dim=(2, 3))  # (N, C): global average pooling
        return self.head(self.dropout(pooled))  # (N, classes) or (N, target_dim)


def build(cfg, spec) -> nn.Module:
    return ResNet(cfg, spec)
