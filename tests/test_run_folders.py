"""Many processes, one result: run folders are claimed exclusively, owned by one live
process, and every file that matters survives kills and full disks.

Real `dlrun` processes, real files, a real tmpfs for the full disk (skipped where mounting
is not allowed)."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TINY, run_cli, start_cli

ONE_THREAD = ["hardware.threads=1", "trainer.progress_bar=false"]


def _rows(run_dir: Path) -> list:
    with open(run_dir / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _wait_for(condition, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_six_runs_started_together_get_six_folders_with_their_own_metrics(tmp_path):
    seeds = range(6)
    procs = [start_cli([*TINY, *ONE_THREAD, f"seed={seed}"], tmp_path) for seed in seeds]
    codes = [proc.wait(timeout=600) for proc in procs]
    assert codes == [0] * 6, [proc.stdout.read()[-500:] for proc in procs]
    folders = sorted(path.parent for path in tmp_path.rglob("summary.json"))
    assert len(folders) == 6
    seen_seeds = sorted(json.loads((folder / "summary.json").read_text())["config"]["seed"] for folder in folders)
    assert seen_seeds == list(seeds)
    for folder in folders:  # each folder holds one run's rows: 2 epochs x 5 batches, logged every 2 steps
        train_steps = [int(row["step"]) for row in _rows(folder) if row.get("train/loss")]
        assert train_steps == sorted(set(train_steps)) and len(train_steps) == 5, (folder, train_steps)
        assert not (folder / "owner.json").exists()  # a finished run lets its folder go


def test_a_folder_that_holds_a_run_is_refused_by_name(tiny_run, tmp_path):
    _, run_dir = tiny_run
    before = (run_dir / "summary.json").stat().st_mtime_ns
    result = run_cli([*TINY, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) <= 3 and "holds a run already" in result.stderr and "dlrun resume" in result.stderr
    assert "Traceback" not in result.output
    assert (run_dir / "summary.json").stat().st_mtime_ns == before


def _user_folder(root: Path) -> dict:
    """A folder of a user's own files, named as a run's are (no summary.json): {path: bytes}."""
    files = {"metrics.csv": b"step,loss\n1,0.5\n", "checkpoints/last.ckpt": b"the user's weights",
             "plots/curves.png": b"\x89PNG the user's figure"}
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def _snapshot(root: Path) -> dict:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_a_users_folder_named_as_run_dir_is_refused_and_left_byte_for_byte(tmp_path):
    user = tmp_path / "mine"
    _user_folder(user)
    before = _snapshot(user)
    result = run_cli([*TINY, f"hydra.run.dir={user}"], cwd=tmp_path)
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) <= 3
    assert "not a dlrun run" in result.stderr and "checkpoints, metrics.csv, plots" in result.stderr
    assert _snapshot(user) == before  # nothing overwritten, nothing added
    assert not (tmp_path / "outputs").exists()


def test_dlrun_run_refuses_a_users_folder_and_an_empty_name(tmp_path):
    import dlrun
    from dlrun.base.errors import ConfigError

    user = tmp_path / "mine"
    _user_folder(user)
    before = _snapshot(user)
    with pytest.raises(ConfigError, match="run_dir=.*not a dlrun run"):
        dlrun.run(TINY, run_dir=user)
    assert _snapshot(user) == before
    with pytest.raises(ConfigError, match="run_dir=: an empty folder name"):
        dlrun.run(TINY, run_dir="")


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_an_empty_run_or_sweep_folder_name_is_refused(tmp_path, key):
    flags = ["-m", "seed=0,1"] if key == "hydra.sweep.dir" else []
    result = run_cli([*flags, *TINY, f"{key}="], cwd=tmp_path)
    assert result.returncode == 2, result.output
    assert f"{key}=: an empty folder name" in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # not even outputs/: the working folder is untouched


def test_dlrun_run_returns_absolute_paths_and_summary_json_stores_relative_ones(tiny_run, tmp_path):
    from dlrun.training.summary import read_summary

    summary, run_dir = tiny_run
    assert Path(summary["run_dir"]).is_absolute() and Path(summary["best_checkpoint"]).is_file()
    stored = json.loads((Path(run_dir) / "summary.json").read_text())
    assert stored["best_checkpoint"] == "checkpoints/best.ckpt"
    copy = tmp_path / "copied"
    shutil.copytree(run_dir, copy)
    moved = read_summary(copy)  # a copied folder names its own files
    assert moved["best_checkpoint"] == str(copy.resolve() / "checkpoints" / "best.ckpt")
    assert moved["run_dir"] == str(copy.resolve())


def test_every_checkpoint_has_its_sha256_beside_it(tiny_run):
    import hashlib

    _, run_dir = tiny_run
    for name in ("best.ckpt", "last.ckpt"):
        path = Path(run_dir) / "checkpoints" / name
        digest, listed = (path.parent / f"{name}.sha256").read_text().split()
        assert listed == name and digest == hashlib.sha256(path.read_bytes()).hexdigest()


def _checkpoint_step(run_dir: Path):
    import torch

    try:
        return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, mmap=True)["global_step"]
    except Exception:  # not written yet, or being replaced
        return None


def _last_logged_step(run_dir: Path):
    try:
        return max(int(row["step"]) for row in _rows(run_dir) if row.get("train/loss"))
    except (OSError, ValueError):
        return None


LONG = ["trainer.max_epochs=40", "trainer.log_every_n_steps=1", "callbacks.checkpoint.last_min_interval_s=1",
        "trainer.test_after_fit=false", *ONE_THREAD]


@pytest.mark.slow
def test_resume_is_refused_while_the_run_lives_and_works_after_kill_9_with_every_step_once(tmp_path):
    run_dir = tmp_path / "run"
    proc = start_cli([*LONG, f"hydra.run.dir={run_dir}"], tmp_path)
    try:
        # rows logged past the last checkpoint: the steps a resume must not count twice
        _wait_for(lambda: (_checkpoint_step(run_dir) is not None and (_last_logged_step(run_dir) or -1)
                           > _checkpoint_step(run_dir) + 3), what="rows past the checkpoint")
        refused = run_cli(["resume", str(run_dir)], cwd=tmp_path)
        assert refused.returncode == 2 and f"pid {proc.pid}" in refused.stderr and "Traceback" not in refused.output
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "running"  # from the first second
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    from dlrun.training.summary import read_summary

    assert read_summary(run_dir)["status"] == "crashed"
    shown = run_cli(["summary", str(run_dir)], cwd=tmp_path)
    assert shown.returncode == 0 and "crashed" in shown.stdout

    resumed = run_cli(["resume", str(run_dir)], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.output[-2000:]
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["epochs"] == 40 and summary["global_step"] % 40 == 0
    train_steps = [int(row["step"]) for row in _rows(run_dir) if row.get("train/loss")]
    assert train_steps == list(range(summary["global_step"]))  # every step once, in order
    val_steps = [int(row["step"]) for row in _rows(run_dir) if row.get("val/loss")]
    assert len(val_steps) == len(set(val_steps)) == 40


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_full_disk_keeps_the_previous_checkpoints_and_says_so_in_one_line(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "3m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        run_dir = disk / "run"
        result = run_cli(["trainer.max_epochs=5", "callbacks.checkpoint.last_min_interval_s=0", *ONE_THREAD,
                          f"hydra.run.dir={run_dir}"], cwd=tmp_path)
        assert result.returncode == 1
        assert "Traceback" not in result.output
        errors = [line for line in result.output.splitlines() if line.startswith("ERROR") or "[ERROR]" in line]
        assert len(errors) == 1 and "out of disk space" in errors[0] and str(run_dir) in errors[0]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "failed" and "\n" not in summary["error"] and "Errno 28" in summary["traceback"]
        import torch

        for name in ("best.ckpt", "last.ckpt"):  # the last good ones, whole
            state = torch.load(run_dir / "checkpoints" / name, weights_only=True)
            assert state["global_step"] > 0
        assert not list(run_dir.rglob(".*.tmp"))  # no temporary left behind
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.slow
def test_a_run_killed_as_its_folder_appears_reads_as_crashed_and_resume_starts_it_again(tmp_path):
    """summary.json is the folder's first file: at the first moment the folder exists it is
    there (kill -9 then leaves a run, not an anonymous folder); `dlrun resume` of a run with
    no checkpoint starts it again from step 0 in the same folder, saying so in one line."""
    run_dir = tmp_path / "run"
    process = start_cli([*TINY, *ONE_THREAD, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    try:
        first_seen = _wait_for(lambda: run_dir.is_dir() and sorted(p.name for p in run_dir.iterdir()), timeout=300,
                               what="the run folder")
    finally:
        process.kill()
        process.wait()
    assert "summary.json" in first_seen, first_seen
    assert not (run_dir / "checkpoints").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind

    shown = run_cli(["summary", str(run_dir)], cwd=tmp_path)
    assert shown.returncode == 0 and "crashed" in shown.stdout and "step 0" in shown.stdout, shown.output

    resumed = run_cli(["resume", str(run_dir)], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.output[-3000:]
    said = [line for line in resumed.stderr.splitlines() if "before its first checkpoint" in line]
    assert said == [f"dlrun resume: {run_dir} stopped before its first checkpoint: starting it again from step 0 "
                    "in the same folder"], resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_step"] == 10
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # the same folder, no new one
