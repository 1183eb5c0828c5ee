"""Checkpoints read only when trustworthy: a file that differs from the SHA-256 recorded next
to it is refused by eval, resume and init=checkpoint; a pickle that would import code is
refused naming what it would import; a copied run folder reads its own files.

The sidecars (X.ckpt.sha256, sha256sum's format) are written here with hashlib, as the
run writes them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
import torch

from dlrun.training.checkpoint_files import as_recorded, recorded_path, sidecar, sidecar_text, verify_checksum
from dlrun.cli.commands.evaluate import main as evaluate
from dlrun.cli.commands.resume import main as resume
from conftest import run_cli
from dlrun.base.errors import CheckpointError, ConfigError
from dlrun.cli.precheck import check_command_line
from dlrun.recipe.transfer import load_state_dict, resolve_checkpoint


def write_sidecar(path) -> None:
    sidecar(path).write_text(sidecar_text(path, hashlib.sha256(path.read_bytes()).hexdigest()))


def flip_a_byte(path) -> None:
    """One bit of the middle of the file changed: tensor bytes, which torch.load does not check."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def copied_run(tiny_run, tmp_path):
    """A copy of the session's tiny run, with sidecars next to its checkpoints."""
    _, run_dir = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    for checkpoint in (copy / "checkpoints").glob("*.ckpt"):
        write_sidecar(checkpoint)
    return copy


def test_a_checkpoint_matching_its_sidecar_is_evaluated(copied_run, capsys):
    assert evaluate([str(copied_run)]) == 0, capsys.readouterr().err


def test_a_flipped_byte_is_refused_by_eval_resume_and_init(copied_run, capsys):
    best, last = copied_run / "checkpoints" / "best.ckpt", copied_run / "checkpoints" / "last.ckpt"
    flip_a_byte(best)
    flip_a_byte(last)
    summary_before = (copied_run / "summary.json").read_text()

    assert evaluate([str(copied_run)]) == 2
    err = capsys.readouterr().err
    assert f"{best}: corrupt: its SHA-256 differs" in err and len(err.strip().splitlines()) == 1

    assert resume([str(copied_run)]) == 2
    assert f"{last}: corrupt: its SHA-256 differs" in capsys.readouterr().err
    assert (copied_run / "summary.json").read_text() == summary_before  # nothing ran

    with pytest.raises(ConfigError, match="best.ckpt: corrupt: its SHA-256 differs"):  # before any run folder
        check_command_line(["init=checkpoint", f"init.path={copied_run}", f"hydra.run.dir={copied_run}_new"])
    assert not os.path.exists(f"{copied_run}_new")
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        load_state_dict(best)


def test_no_sidecar_is_accepted_with_a_warning_and_a_malformed_one_is_refused(tmp_path, capsys):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.zeros(2)}, path)
    verify_checksum(path)  # an older run: nothing recorded, nothing to check, said once
    verify_checksum(path)
    warned = capsys.readouterr().err.strip().splitlines()
    assert warned == [f"dlrun: warning: {path}: no checksum file (w.pt.sha256): loaded without verifying it "
                      "(a corrupt file loads as it is)"]
    sidecar(path).write_text("not a checksum\n")
    with pytest.raises(CheckpointError, match="w.pt.sha256: not a SHA-256 checksum file"):
        verify_checksum(path)


def test_a_flipped_byte_without_its_sidecar_is_evaluated_with_a_warning(copied_run):
    """A deleted sidecar cannot be told from an older run's: the corrupt file loads (its
    loss may be nan), and `dlrun eval` says in one line that nothing was verified."""
    best = copied_run / "checkpoints" / "best.ckpt"
    flip_a_byte(best)
    sidecar(best).unlink()
    result = run_cli(["eval", str(copied_run)], cwd=copied_run.parent)
    assert result.returncode == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "without verifying" in line]
    assert warnings == [f"dlrun: warning: {best}: no checksum file (best.ckpt.sha256): loaded without "
                        "verifying it (a corrupt file loads as it is)"], result.stderr


def test_an_unsafe_checkpoint_is_refused_naming_what_it_would_import(copied_run, tmp_path, capsys):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"model.w": torch.zeros(2)}, "extra": Payload()}, evil)

    assert evaluate([str(copied_run), f"ckpt={evil}"]) == 2
    err = capsys.readouterr().err
    assert f"{evil}: refused: loading it would import posix.system" in err
    for advice in ("weights_only=False", "weights_only` set to `False`", "add_safe_globals", "trusted source"):
        assert advice not in err
    with pytest.raises(CheckpointError, match="would import posix.system") as refused:
        load_state_dict(evil)
    assert "False" not in str(refused.value)
    assert not marker.exists()  # nothing was executed


def _as_original(folder, relative: bool) -> None:
    """summary.json's checkpoint paths as the run that made `folder` recorded them."""
    summary = json.loads((folder / "summary.json").read_text())
    for key in ("best_checkpoint", "last_checkpoint"):
        path = folder / "checkpoints" / f"{key.split('_')[0]}.ckpt"
        summary[key] = as_recorded(folder, path) if relative else str(path)
    (folder / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize("relative", [True, False], ids=["relative paths", "absolute paths (older runs)"])
def test_a_copied_run_folder_reads_its_own_checkpoints(copied_run, tmp_path, capsys, relative):
    _as_original(copied_run, relative)
    copy = tmp_path / "moved" / "run"
    shutil.copytree(copied_run, copy)
    for checkpoint in (copied_run / "checkpoints").glob("*.ckpt"):
        checkpoint.unlink()  # the original's files are gone: only the copy's own can be read

    assert resolve_checkpoint(copy, "best") == copy / "checkpoints" / "best.ckpt"
    assert resolve_checkpoint(copy, "last") == copy / "checkpoints" / "last.ckpt"
    assert evaluate([str(copy)]) == 0, capsys.readouterr().err
    written = json.loads((copy / "eval_best_digits.json").read_text())
    assert written["checkpoint"] == "checkpoints/best.ckpt"
    assert load_state_dict(resolve_checkpoint(copy, "best"))  # init=checkpoint init.path=COPY


def test_recorded_paths_resolve_against_the_run_folder(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.ckpt").write_bytes(b"x")
    assert recorded_path(run, "checkpoints/best.ckpt") == run / "checkpoints" / "best.ckpt"
    assert recorded_path(run, "/elsewhere/checkpoints/best.ckpt") == run / "checkpoints" / "best.ckpt"
    assert str(recorded_path(run, "/elsewhere/checkpoints/last.ckpt")) == "/elsewhere/checkpoints/last.ckpt"
    assert recorded_path(run, None) is None
    assert as_recorded(run, run / "checkpoints" / "best.ckpt") == "checkpoints/best.ckpt"
    assert as_recorded(run, tmp_path / "other.ckpt") == str(tmp_path / "other.ckpt")


def test_an_hpc_checkpoint_checksum_does_not_fool_lightning_version_parse(tmp_path):
    """A SLURM-requeued job resumes from the hpc_ckpt_N.ckpt Lightning finds by the digits in
    every name of the run folder: its sidecar lives in hpc_checksums/, and is checked on load."""
    import torch
    from lightning.pytorch.trainer.connectors.checkpoint_connector import _CheckpointConnector

    from dlrun.training.checkpoint_io import AtomicCheckpointIO, write_checkpoint

    write_checkpoint({"global_step": 3}, tmp_path / "hpc_ckpt_1.ckpt")
    assert sidecar(tmp_path / "hpc_ckpt_1.ckpt") == tmp_path / "hpc_checksums" / "hpc_ckpt_1.ckpt.sha256"
    verify_checksum(tmp_path / "hpc_ckpt_1.ckpt")
    # where Lightning saves the next one: hpc_ckpt_2, not hpc_ckpt_1257
    assert _CheckpointConnector.hpc_save_path(tmp_path) == str(tmp_path / "hpc_ckpt_2.ckpt")
    (tmp_path / "hpc_ckpt_1.ckpt").write_bytes(torch.zeros(1).numpy().tobytes())
    with pytest.raises(CheckpointError, match="corrupt"):
        AtomicCheckpointIO().load_checkpoint(tmp_path / "hpc_ckpt_1.ckpt")
