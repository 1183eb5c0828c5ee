"""SLURM without a cluster: the submission script the real CLI + Hydra's submitit launcher
write (only the scheduler's commands are fakes on PATH), and SLURM tasks acting as the ranks
of one run (the variables srun would set, given to two real CLI processes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, read_json

# Fake scheduler commands: sbatch keeps a copy of the script it was given.
FAKE_SBATCH = """#!/bin/sh
cp "$1" "$(dirname "$0")/submitted.sh"
echo "Submitted batch job 4242"
"""
FAKE_SACCT = """#!/bin/sh
echo "JobID|State|NodeList"
echo "4242|PENDING|None"
"""
FAKE_SRUN = """#!/bin/sh
exit 1
"""


def fake_scheduler(folder: Path) -> Path:
    folder.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("sacct", FAKE_SACCT), ("srun", FAKE_SRUN)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


def submitted_script(tmp_path: Path, *overrides) -> str:
    """The sbatch script `dlrun -m hydra/launcher=slurm OVERRIDES` submits (the CLI is stopped
    once it has submitted: the fake scheduler never runs the job)."""
    scheduler = fake_scheduler(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{scheduler}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO / "tests") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "dlrun", "-m", "hydra/launcher=slurm", *overrides],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    script = scheduler / "submitted.sh"
    try:
        deadline = time.time() + 60
        while not script.exists() and process.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # let cp finish
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert script.exists(), output[-3000:]
    return script.read_text()


@pytest.mark.parametrize("overrides, nodes, tasks", [
    (["hardware=multinode", "hardware.num_nodes=2", "hardware.devices=4"], 2, 4),
    (["hardware=multinode", "hardware.num_nodes=3", "hardware.devices=2"], 3, 2),
], ids=["2x4", "3x2"])
def test_slurm_submission_holds_nodes_tasks_per_node_and_gpus_from_hardware(tmp_path, overrides, nodes, tasks):
    script = submitted_script(tmp_path, *overrides)
    lines = set(script.splitlines())
    assert f"#SBATCH --nodes={nodes}" in lines
    assert f"#SBATCH --ntasks-per-node={tasks}" in lines  # one task per device: each task is a rank
    assert f"#SBATCH --gpus-per-node={tasks}" in lines
    assert "#SBATCH --signal=USR1@120" in lines  # Lightning's SLURM requeue signal
    assert "#SBATCH --time=240" in lines
    assert any(line.startswith("srun ") and "submitit.core._submit" in line for line in lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def slurm_task_environment(procid: int, ntasks: int, port: int) -> dict:
    """What srun sets for task `procid` of a one-node job (plus the rendezvous address)."""
    return {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "dlrun", "SLURM_NTASKS": str(ntasks),
            "SLURM_NTASKS_PER_NODE": str(ntasks), "SLURM_NNODES": "1", "SLURM_NODEID": "0",
            "SLURM_PROCID": str(procid), "SLURM_LOCALID": str(procid), "SLURM_NODELIST": "localhost",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}


@pytest.mark.slow
def test_slurm_tasks_are_the_ranks_of_one_run(tmp_path):
    run_dir, port = tmp_path / "run", free_port()
    args = ["hardware=ddp_cpu", f"hydra.run.dir={run_dir}", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
            "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "trainer.progress_bar=false"]
    tasks = []
    for procid in (0, 1):
        env = {**os.environ, **slurm_task_environment(procid, 2, port),
               "PYTHONPATH": str(REPO / "tests") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        tasks.append(subprocess.Popen([sys.executable, "-m", "dlrun", *args], cwd=tmp_path, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [task.communicate(timeout=120) for task in tasks]
    for task, (stdout, stderr) in zip(tasks, outputs):
        assert task.returncode == 0, (stdout + stderr)[-3000:]
    assert len(list(tmp_path.rglob("summary.json"))) == 1
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "completed"
    records = [read_json(run_dir / "ranks" / f"rank-{rank}.json") for rank in (0, 1)]
    assert [record["cluster_environment"] for record in records] == ["SLURMEnvironment"] * 2
    assert records[0]["lr"] == records[1]["lr"] == summary["config"]["optim"]["lr"]
    assert [record["world_size"] for record in records] == [2, 2]
    assert "best val/loss" in outputs[0][0] and "best val/loss" not in outputs[1][0]  # console: rank zero only


def test_slurm_with_devices_auto_is_a_config_error_before_anything_is_submitted(tmp_path):
    from conftest import run_cli

    result = run_cli(["-m", "hydra/launcher=slurm", "hardware=ddp", "optim.lr=0.1",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert result.returncode == 2, result.output[-3000:]
    assert "hardware.devices='auto': a SLURM job needs the number of devices (ranks) per node" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "sweep").exists()
