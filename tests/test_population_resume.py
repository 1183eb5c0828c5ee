"""Populations resume (issue 22/24): a population killed mid-training (kill -9) continues from
its members' last.ckpt at the next start of the same sweep command, through the real `dlrun`."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

import pytest
import torch

from conftest import read_json, run_cli, start_cli
from dlrun.population.resume import MEMBER_STATE

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# 6 epochs of 40 steps; every epoch end saves last.ckpt (no minimum interval)
STEPS = 240
SWEEP = ["launcher=population", "hydra.launcher.size=2", "optim.lr=0.01,0.02", "trainer.max_epochs=6",
         "data.batch_size=16", "trainer.limit_train_batches=40", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
         "trainer.log_every_n_steps=5", "trainer.progress_bar=false", "hardware.threads=1", "logger=csv",
         "callbacks.checkpoint.last_min_interval_s=0"]


def rows(run_dir: Path) -> list:
    with open(run_dir / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def by_lr(sweep_dir: Path) -> dict:
    """{lr: (run folder, summary)} of the sweep's completed trials."""
    found = {}
    for summary_file in sweep_dir.glob("[0-9]*/summary.json"):
        summary = read_json(summary_file)
        if summary["status"] == "completed":
            found[summary["config"]["optim"]["lr"]] = (summary_file.parent, summary)
    return found


def kill_after_saves(worker, sidecar: Path, saves: int) -> None:
    """kill -9 the sweep once the member's last.ckpt was written `saves` times (its sidecar changed)."""
    seen, count, started = None, 0, time.monotonic()
    while count < saves:
        assert worker.poll() is None, "the sweep ended before it could be killed: " + worker.communicate()[0][-3000:]
        assert time.monotonic() - started < 600, "no checkpoint appeared"
        digest = sidecar.read_text() if sidecar.is_file() else None
        if digest and digest != seen:
            seen, count = digest, count + 1
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)


@pytest.mark.slow
def test_a_killed_population_continues_from_its_members_checkpoints(tmp_path):
    whole = run_cli(["-m", *SWEEP, f"hydra.sweep.dir={tmp_path / 'whole'}"], cwd=tmp_path, env=ONE_THREAD)
    assert whole.returncode == 0, whole.output[-3000:]
    uninterrupted = by_lr(tmp_path / "whole")

    sweep_dir = tmp_path / "killed"
    command = ["-m", *SWEEP, f"hydra.sweep.dir={sweep_dir}"]
    # saves: the start (step 0), then epoch ends: the third is at the end of epoch 2 (step 80). The
    # members' files are written in turn: watching the last one's, the kill follows a whole save
    kill_after_saves(start_cli(command, tmp_path, env=ONE_THREAD), sweep_dir / "1" / "checkpoints" / "last.ckpt.sha256", 3)
    saved = torch.load(sweep_dir / "0" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert 0 < saved["global_step"] < STEPS and saved[MEMBER_STATE]["rows"], "killed mid-training, after a checkpoint"
    assert (sweep_dir / "0" / "checkpoints" / "last.ckpt.sha256").is_file()
    assert saved["optimizer_states"][0]["state"], "the member's optimizer state travels in its last.ckpt"

    again = run_cli(command, cwd=tmp_path, env=ONE_THREAD)
    assert again.returncode == 0, again.output[-3000:]
    assert f"population resumes at step {saved['global_step']}" in again.output
    resumed = by_lr(sweep_dir)
    assert sorted(resumed) == [0.01, 0.02], "every member ends completed"
    assert {read_json(sweep_dir / str(number) / "summary.json")["status"] for number in (0, 1)} == {"interrupted"}
    for lr, (run_dir, summary) in resumed.items():
        assert summary["resumed_from"].startswith(str(sweep_dir)), "a retry continues its interrupted member"
        steps = [(row["step"], row["val/loss"] != "", row["test/loss"] != "") for row in rows(run_dir)]
        assert len(steps) == len(set(steps)), "metrics.csv holds every step once"
        assert summary["global_step"] == STEPS
        whole_dir, whole_summary = uninterrupted[lr]
        assert rows(run_dir) == rows(whole_dir), "the resumed member's metrics are the uninterrupted run's"
        assert summary["final"] == whole_summary["final"] and summary["test"] == whole_summary["test"]
        assert summary["objective"]["value"] == whole_summary["objective"]["value"]


def test_members_optimizer_and_schedule_slices_join_back_into_the_population_state():
    """The split a member's last.ckpt holds, put back together, is the population's state again."""
    from torch.optim.lr_scheduler import LambdaLR

    from dlrun.population.resume import join_optimizers, join_schedulers, slice_optimizer, slice_scheduler

    torch.manual_seed(0)
    networks = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)) for _ in range(3)]
    groups, owners = [], []
    for index, network in enumerate(networks):  # two groups per member, as decayed / not decayed
        groups += [{"params": list(network[0].parameters()), "lr": 0.1 * (index + 1)},
                   {"params": list(network[1].parameters()), "lr": 0.01 * (index + 1), "weight_decay": 0.0}]
        owners += [index, index]
    optimizer = torch.optim.Adam(groups)
    scheduler = LambdaLR(optimizer, [lambda step, k=k: 1.0 / (1 + step * k) for k in range(len(groups))])
    for _ in range(3):
        sum(network(torch.randn(5, 3)).square().sum() for network in networks).backward()
        optimizer.step()
        scheduler.step()
    state, schedule = optimizer.state_dict(), scheduler.state_dict()
    mine = [[group for group, owner in enumerate(owners) if owner == index] for index in range(3)]
    joined = join_optimizers([slice_optimizer(state, own) for own in mine])
    assert [group["params"] for group in joined["param_groups"]] == [group["params"] for group in state["param_groups"]]
    assert joined["param_groups"] == state["param_groups"]
    assert sorted(joined["state"]) == sorted(state["state"])
    for parameter, values in state["state"].items():
        assert all(torch.equal(values[name], joined["state"][parameter][name]) for name in values)
    assert slice_optimizer(state, mine[1])["param_groups"][0]["initial_lr"] == pytest.approx(0.2)  # member 1's own
    assert join_schedulers([slice_scheduler(schedule, own, len(owners)) for own in mine]) == schedule
