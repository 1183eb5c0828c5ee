"""Per-dataset test setup: the overrides that make a dataset tiny, writing any files it reads.

Every dataset in dlrun.data.datasets.DATASETS needs an entry here (a test checks that), so
the model x data matrix covers it. FACTORY(tmp_path) -> list of Hydra overrides. The writers
below produce files in the published formats (IDX, CIFAR-10 pickle batches) with images
whose class shows in them (a bright band per class), so a few steps of training can learn them.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def class_images(n: int, channels: int, size: int, seed: int):
    """(uint8 images (n, C, size, size), labels (n,)): noise plus a bright band at row 2 * label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, channels, size, size)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, :, 2 * label : 2 * label + 2, :] = 250
    return images, labels


def write_idx(root: Path, n_train: int = 40, n_test: int = 20, size: int = 28, gz: bool = True) -> dict:
    """MNIST-format files in root; returns {file name: bytes written}."""
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = class_images(n, 1, size, seed=len(split))
        image_bytes = struct.pack(">IIII", 0x803, n, size, size) + images.tobytes()
        label_bytes = struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes()
        for name, data in zip(IDX_NAMES[split], (image_bytes, label_bytes)):
            file_name = name + (".gz" if gz else "")
            content = gzip.compress(data, mtime=0) if gz else data
            (root / file_name).write_bytes(content)
            written[file_name] = content
    return written


def _cifar_batch(n: int, seed: int) -> bytes:
    images, labels = class_images(n, 3, 32, seed)
    # protocol 2 with str keys, like the published (Python 2) batches read with encoding="latin1"
    return pickle.dumps({"data": images.reshape(n, -1), "labels": labels.tolist(), "batch_label": "fixture"},
                        protocol=2)


def write_cifar(root: Path, per_batch: int = 8, archive: bool = False) -> Path:
    """CIFAR-10 python batches in root/cifar-10-batches-py/, or packed as root/cifar-10-python.tar.gz."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(CIFAR_BATCHES):
        (folder / name).write_bytes(_cifar_batch(per_batch, seed))
    if not archive:
        return folder
    path = root / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    for name in CIFAR_BATCHES:
        (folder / name).unlink()
    folder.rmdir()
    return path


def write_text(path: Path) -> Path:
    path.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    return path


def write_table(path: Path, rows: int = 120) -> Path:
    """A CSV: three numeric features and a class label that the first two decide."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, -50.0]
    labels = np.where(features[:, 0] + features[:, 1] / 10 > 0.5, "yes", "no")
    lines = ["a,b,c,label"] + [f"{a:.4f},{b:.4f},{c:.4f},{label}" for (a, b, c), label in zip(features, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _generated(name: str, **knobs):
    extra = [f"data.{key}={value}" for key, value in knobs.items()]
    return lambda tmp_path: [f"data={name}", "data.n_samples=96", "data.batch_size=32", *extra]


def _digits(tmp_path: Path) -> list:
    return ["data=digits", "data.batch_size=32"]


def _text(tmp_path: Path) -> list:
    return ["data=text", f"data.path={write_text(tmp_path / 'corpus.txt')}", "data.seq_len=16", "data.batch_size=16"]


def _table(tmp_path: Path) -> list:
    return ["data=table", f"data.path={write_table(tmp_path / 'table.csv')}", "data.target=label", "data.batch_size=32"]


def _idx(name: str):
    def overrides(tmp_path: Path) -> list:
        write_idx(tmp_path / name)
        return [f"data={name}", f"data.root={tmp_path / name}", "data.batch_size=16"]

    return overrides


def _cifar10(tmp_path: Path) -> list:
    write_cifar(tmp_path / "cifar10")
    return ["data=cifar10", f"data.root={tmp_path / 'cifar10'}", "data.batch_size=16"]


DATASET_OVERRIDES = {
    "digits": _digits,
    "moons": _generated("moons"),
    "circles": _generated("circles"),
    "blobs": _generated("blobs"),
    "copy": _generated("copy", length=4, vocab=4),
    "reverse": _generated("reverse", length=6, vocab=5),
    "sort": _generated("sort", length=6, vocab=5),
    "parity": _generated("parity", length=8),
    "adding": _generated("adding", length=8, vocab=5),
    "brackets": _generated("brackets", length=8),
    "text": _text,
    "table": _table,
    "mnist": _idx("mnist"),
    "fashion_mnist": _idx("fashion_mnist"),
    "cifar10": _cifar10,
}


def dataset_overrides(name: str, tmp_path: Path) -> list:
    return DATASET_OVERRIDES[name](Path(tmp_path))
