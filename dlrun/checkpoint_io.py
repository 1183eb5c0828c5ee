"""Checkpoint files that cannot be destroyed or silently altered.

Every checkpoint (best.ckpt, last.ckpt) is serialised in memory, written to a temporary
file beside its target and renamed into place (dlrun.atomic), so a kill or a full disk
leaves the previous good checkpoint loadable. Its SHA-256 goes to `NAME.ckpt.sha256`
(sha256sum's format: `sha256sum -c` checks it too); readers verify it before loading.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from dlrun import atomic

DIGEST_SUFFIX = ".sha256"


def digest_path(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + DIGEST_SUFFIX)


def write_checkpoint(checkpoint: dict, path) -> None:
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, data)
    atomic.write_text(digest_path(path), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, writing through write_checkpoint."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        write_checkpoint(checkpoint, path)

    def remove_checkpoint(self, path) -> None:
        super().remove_checkpoint(path)
        digest_path(path).unlink(missing_ok=True)
