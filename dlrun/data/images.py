"""MNIST, Fashion-MNIST and CIFAR-10 from their published files in data.root (optionally
downloaded first), with the official test split as the test split and val taken from the
training files by the seed.

data.in_memory=true (the default) preloads normalised float tensors: the fast path. false
keeps uint8 images (memory-mapped for IDX) and a DataLoader's workers convert samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dlrun.data.checks import CIFAR_ARCHIVE, CIFAR_BATCHES, IDX_FILES, cifar_source
from dlrun.data.image_files import raw_idx, read_cifar, read_idx, read_idx_labels
from dlrun.data.datasets import data_problems, require_valid
from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, split_indices, tensor_splits
from dlrun.data.transform import affine

_IDX_NAMES = tuple(f"{name}.gz" for pair in IDX_FILES.values() for name in pair)  # as published


@dataclass(frozen=True)
class Published:
    mirror: str  # URL folder holding the files (data.mirror replaces it)
    checksums: dict  # file name -> "md5:HEX" (data.checksums replaces it)
    shape: tuple  # (C, H, W)
    mean: tuple  # per-channel pixel mean and std on [0, 1]: fixed constants, so no test statistics leak
    std: tuple


PUBLISHED = {
    "mnist": Published("https://ossci-datasets.s3.amazonaws.com/mnist/", dict(zip(_IDX_NAMES, (
        "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873", "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "md5:9fb629c4189551a2d022fa330f9573f3", "md5:ec29112dd5afa0611ce80d1b7f02629c"))),
        (1, 28, 28), (0.1307,), (0.3081,)),
    "fashion_mnist": Published("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", dict(zip(_IDX_NAMES, (
        "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", "md5:25c81989df183df01b3e8a0aad5dffbe",
        "md5:bef4ecab320f06d8554ea6380940ec79", "md5:bb300cfdad3c16e7a12a480ee83cd310"))),
        (1, 28, 28), (0.2860,), (0.3530,)),
    "cifar10": Published("https://www.cs.toronto.edu/~kriz/", {CIFAR_ARCHIVE: "md5:c58f30108f718f92721af3b95e74349a"},
                         (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


class ImageArrays(torch.utils.data.Dataset):
    """uint8 images (N, C, H, W) normalised one at a time (in the DataLoader's workers).

    `images` is an array, or (path, offset, shape) of a raw file that each process maps
    itself on first use (a mapped array would be copied whole into every worker)."""

    def __init__(self, images, labels, published: Published):
        self.images, self.labels = images, torch.as_tensor(labels)
        self.mean = torch.tensor(published.mean).view(-1, 1, 1)  # (C, 1, 1)
        self.std = torch.tensor(published.std).view(-1, 1, 1)
        self._mapped = None

    def __len__(self) -> int:
        return len(self.labels)

    def _array(self):
        if not isinstance(self.images, tuple):
            return self.images
        if self._mapped is None:
            path, offset, shape = self.images
            self._mapped = np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=shape)
        return self._mapped

    def __getitem__(self, index):
        image = torch.from_numpy(np.array(self._array()[index], dtype=np.float32)) / 255.0  # (C, H, W)
        return (image - self.mean) / self.std, self.labels[index]


def _normalised(images: np.ndarray, published: Published):
    mean = torch.tensor(published.mean).view(1, -1, 1, 1)
    std = torch.tensor(published.std).view(1, -1, 1, 1)
    pixels = torch.from_numpy(images.astype(np.float32))  # a writable copy (file buffers are read-only)
    return (pixels / 255.0 - mean) / std  # (N, C, H, W)


def raw_to_model(published: Published):
    """Pixels 0..255 as the model sees them: (raw / 255 - mean) / std per channel."""
    return affine([255.0 * m for m in published.mean], [255.0 * s for s in published.std])


def _download_if_asked(cfg_data, published: Published) -> None:
    from dlrun.data.download import fetch

    if not cfg_data.get("download") or not data_problems({**dict(cfg_data), "download": False}):
        return  # not asked, or the files are already there
    checksums = cfg_data.get("checksums") or published.checksums
    fetch(Path(cfg_data["root"]), dict(checksums), cfg_data.get("mirror") or published.mirror)


def _arrays(cfg_data, root: Path):
    """((train images, labels), (test images, labels)) as uint8 arrays, or file references
    for IDX images when data.in_memory is false."""
    if cfg_data["name"] == "cifar10":
        batches = read_cifar(cifar_source(root))
        train = [batches[name] for name in CIFAR_BATCHES[:-1]]  # the last one is test_batch
        return ((np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])),
                batches["test_batch"])
    if cfg_data["in_memory"]:
        return read_idx(root, "train"), read_idx(root, "test")
    return tuple((raw_idx(root, split), read_idx_labels(root, split)) for split in ("train", "test"))


def load(cfg_data, seed: int) -> Splits:
    published = PUBLISHED[cfg_data["name"]]
    _download_if_asked(cfg_data, published)
    require_valid(cfg_data)
    (train_images, train_labels), (test_images, test_labels) = _arrays(cfg_data, Path(cfg_data["root"]))
    spec = DataSpec("image", "classification", published.shape, num_classes=10)
    if cfg_data["in_memory"]:
        test = (_normalised(test_images, published), torch.from_numpy(test_labels))
        return tensor_splits(spec, _normalised(train_images, published), torch.from_numpy(train_labels), cfg_data,
                             seed, test=test, transform=raw_to_model(published))
    dataset = ImageArrays(train_images, train_labels, published)
    train, val, _ = split_indices(len(dataset), cfg_data["val_fraction"], 0.0, seed)
    subset = torch.utils.data.Subset
    return Splits(spec, subset(dataset, train.tolist()), subset(dataset, val.tolist()),
                  ImageArrays(test_images, test_labels, published), raw_to_model(published))
