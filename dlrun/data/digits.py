"""scikit-learn's handwritten digits: 1797 grey 8x8 images, 10 classes, shipped offline."""

from __future__ import annotations

import functools

import torch

from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, tensor_splits


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """scikit-learn's arrays, read (and their CSV parsed) once a process: every trial of an
    in-process sweep loads the same file. The tensors below are fresh copies each time."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def load(cfg_data, seed: int) -> Splits:
    images, targets = _digits_arrays()
    # pixel values are 0..16: map to [-1, 1] with fixed constants (no statistics of the
    # test split leak into training)
    images = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0  # (N, 1, 8, 8)
    labels = torch.tensor(targets, dtype=torch.long)
    spec = DataSpec(modality="image", task="classification", input_shape=(1, 8, 8), num_classes=10)
    return tensor_splits(spec, images, labels, cfg_data, seed)
