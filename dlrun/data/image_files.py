"""Readers for the published image formats: IDX (MNIST, Fashion-MNIST; .gz or decompressed)
and CIFAR-10's python pickle batches (the .tar.gz archive or its extracted folder).

Each returns uint8 images (N, C, H, W) and int64 labels (N,). A malformed file raises
ConfigError naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np

from dlrun.data.checks import CIFAR_BATCHES, IDX_FILES, idx_path, read_idx_bytes
from dlrun.base.errors import ConfigError


def _bad(problem: str):
    return ConfigError([problem])


def read_idx_labels(root: Path, split: str):
    """Labels (N,) int64 of the 'train' or 'test' IDX label file in root."""
    data = read_idx_bytes(idx_path(root, IDX_FILES[split][1]))
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


def read_idx(root: Path, split: str):
    """(images (N, 1, H, W) uint8, labels (N,) int64) of the 'train' or 'test' IDX pair in root
    (validated by dlrun.data.checks before this runs)."""
    data = read_idx_bytes(idx_path(root, IDX_FILES[split][0]))
    count, rows, cols = (int(v) for v in np.frombuffer(data, dtype=">u4", count=4)[1:])
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16)
    return pixels.reshape(count, 1, rows, cols), read_idx_labels(root, split)


def raw_idx(root: Path, split: str):
    """(path, offset, shape) of the decompressed train/test image file, decompressing a .gz
    once next to it, so that a DataLoader's workers can memory-map it instead of loading it."""
    images_name, _ = IDX_FILES[split]
    path = idx_path(root, images_name)
    if path.suffix == ".gz":
        raw = path.with_suffix("")
        if not raw.is_file():
            part = raw.with_name(raw.name + ".part")
            with gzip.open(path, "rb") as source, part.open("wb") as target:
                shutil.copyfileobj(source, target)
            part.replace(raw)
        path = raw
    header = np.fromfile(path, dtype=">u4", count=4)
    count, rows, cols = (int(v) for v in header[1:])
    return str(path), 16, (count, 1, rows, cols)


class _ArraysOnly(pickle.Unpickler):
    """A CIFAR batch is a dict of numpy arrays and lists: nothing else may be unpickled (a
    pickle can otherwise run arbitrary code)."""

    ALLOWED = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode")}  # Python 3's protocol-2 pickles store bytes through it

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")


def _cifar_batch(handle, where: str):
    try:
        batch = _ArraysOnly(handle, encoding="latin1").load()
        data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, EOFError, ValueError) as error:
        raise _bad(f"{where}: not a CIFAR-10 python batch ({type(error).__name__}: {error})") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise _bad(f"{where}: data is {data.shape} {data.dtype} with {len(labels)} labels; CIFAR-10 batches hold "
                   "(N, 3072) uint8 rows (3x32x32 images) and N labels")
    if labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise _bad(f"{where}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar(source: Path) -> dict:
    """Batch name -> (images (N, 3, 32, 32) uint8, labels (N,)) from the folder or the archive."""
    if source.is_dir():
        batches = {}
        for name in CIFAR_BATCHES:
            with (source / name).open("rb") as handle:
                batches[name] = _cifar_batch(handle, str(source / name))
        return batches
    try:
        with tarfile.open(source, "r:gz") as archive:
            members = {Path(member.name).name: member for member in archive.getmembers() if member.isfile()}
            missing = [name for name in CIFAR_BATCHES if name not in members]
            if missing:
                raise _bad(f"{source}: the archive lacks {', '.join(missing)}")
            return {name: _cifar_batch(archive.extractfile(members[name]), f"{source}:{name}")
                    for name in CIFAR_BATCHES}
    except (tarfile.TarError, OSError, EOFError) as error:
        raise _bad(f"{source}: not a readable .tar.gz archive ({error})") from None
