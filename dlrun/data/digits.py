"""scikit-learn's handwritten digits: 1797 grey 8x8 images, 10 classes, shipped offline."""

from __future__ import annotations

import torch

from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, tensor_splits


def load(cfg_data, seed: int) -> Splits:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # pixel values are 0..16: map to [-1, 1] with fixed constants (no statistics of the
    # test split leak into training)
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0  # (N, 1, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.long)
    spec = DataSpec(modality="image", task="classification", input_shape=(1, 8, 8), num_classes=10)
    return tensor_splits(spec, images, labels, cfg_data, seed)
