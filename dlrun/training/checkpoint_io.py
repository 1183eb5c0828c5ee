"""Checkpoint files that cannot be destroyed or silently altered.

Every checkpoint (best.ckpt, last.ckpt) is serialised in memory, written to a temporary
file beside its target and renamed into place (dlrun.base.atomic), so a kill or a full disk
leaves the previous good checkpoint loadable. Its SHA-256 goes to `NAME.ckpt.sha256`
(dlrun.training.checkpoint_files: sha256sum's format; Lightning's hpc_ckpt_N.ckpt keep theirs
in hpc_checksums/); readers verify it before loading, Lightning's own loads included (the
hpc checkpoint a requeued SLURM job resumes from).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from dlrun.base import atomic
from dlrun.training.checkpoint_files import sidecar, sidecar_text, verify_checksum


def write_checkpoint(checkpoint: dict, path) -> None:
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, data)
    # the checkpoint first: a kill between the two renames leaves a pair that reads as
    # corrupt (refused, named), never a stale checkpoint that passes
    sidecar(path).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(sidecar(path), sidecar_text(path, hashlib.sha256(data).hexdigest()))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, writing through write_checkpoint."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        write_checkpoint(checkpoint, path)

    def load_checkpoint(self, path, *args, **kwargs):
        verify_checksum(path)
        return super().load_checkpoint(path, *args, **kwargs)

    def remove_checkpoint(self, path) -> None:
        super().remove_checkpoint(path)
        sidecar(path).unlink(missing_ok=True)
