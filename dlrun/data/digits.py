"""scikit-learn's handwritten digits: 1797 grey 8x8 images, 10 classes, shipped offline."""

from __future__ import annotations

import functools

import torch

from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, tensor_splits
from dlrun.data.transform import affine

# pixel values are 0..16: raw / 8 - 1 maps them to [-1, 1] with fixed constants (no
# statistics of the test split leak into training); `dlrun predict` applies the same
RAW_TO_MODEL = affine(shift=8.0, scale=8.0)


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """scikit-learn's arrays, read (and their CSV parsed) once a process: every trial of an
    in-process sweep loads the same file. The tensors below are fresh copies each time."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def load(cfg_data, seed: int) -> Splits:
    images, targets = _digits_arrays()
    pixels = torch.tensor(images, dtype=torch.float32).unsqueeze(1)  # (N, 1, 8, 8), 0..16
    images = torch.from_numpy(RAW_TO_MODEL.scaled(pixels.numpy(), image=True))
    labels = torch.tensor(targets, dtype=torch.long)
    spec = DataSpec(modality="image", task="classification", input_shape=(1, 8, 8), num_classes=10)
    return tensor_splits(spec, images, labels, cfg_data, seed, transform=RAW_TO_MODEL)
