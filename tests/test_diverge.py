"""A diverging run stops at once: status `diverged`, a message naming the step and the last
finite loss, and the last good checkpoint kept (never overwritten by bad weights)."""

from __future__ import annotations

import re

import pytest
import torch

import dlrun
from conftest import TINY, only_run_dir, read_json


def checkpoint_at(path) -> dict:
    return torch.load(path, weights_only=True)


def all_finite(checkpoint: dict) -> bool:
    return all(torch.isfinite(tensor).all() for tensor in checkpoint["state_dict"].values())


def test_huge_learning_rate_diverges_at_once_keeping_the_starting_checkpoint(tmp_path):
    summary = dlrun.run([*TINY, "optim.lr=1e6"], run_dir=tmp_path)
    assert summary["status"] == "diverged"
    # Adam moves every weight by ~lr: the second loss is astronomically large (finite, though)
    explosion = r"diverged at step 1 \(epoch 0\): training loss \S+ exceeds 10000 x the first loss 2\.3"
    assert re.search(explosion, summary["error"])
    assert "last finite loss 2.3" in summary["error"] and "at step 0" in summary["error"]
    assert summary["global_step"] == 1 and summary["test"] == {}
    kept = checkpoint_at(summary["last_checkpoint"])
    assert kept["global_step"] == 0 and all_finite(kept)  # the weights before any bad step
    assert read_json(tmp_path / "summary.json")["status"] == "diverged"


def test_non_finite_loss_is_named_as_such(tmp_path):
    only_non_finite = ["optim=sgd", "optim.lr=1e6", "callbacks.divergence.max_loss_ratio=null"]
    summary = dlrun.run([*TINY, *only_non_finite], run_dir=tmp_path)
    assert summary["status"] == "diverged"
    assert re.search(r"training loss (nan|inf) is not finite; last finite loss \S+ at step \d+", summary["error"])


def test_divergence_after_a_good_epoch_keeps_that_epochs_checkpoint(tmp_path):
    # lr 0.1 for the first epoch, then x100 per epoch: fine for 5 steps, then it blows up
    exploding = ["optim=sgd", "optim.lr=0.1", "schedule=exponential", "schedule.gamma=100", "trainer.max_epochs=4",
                 "callbacks.checkpoint.last_min_interval_s=0"]  # last.ckpt at every epoch end
    summary = dlrun.run([*TINY, *exploding], run_dir=tmp_path)
    assert summary["status"] == "diverged"
    step = int(re.search(r"diverged at step (\d+)", summary["error"]).group(1))
    kept = checkpoint_at(tmp_path / "checkpoints" / "last.ckpt")
    assert kept["global_step"] % 5 == 0 and 5 <= kept["global_step"] < step + 1
    assert all_finite(kept)
    assert summary["last_checkpoint"] in summary["error"]


def test_divergence_guard_can_be_turned_off(tmp_path):
    summary = dlrun.run([*TINY, "optim.lr=1e6", "callbacks.divergence.enabled=false"], run_dir=tmp_path)
    assert summary["status"] == "completed"


@pytest.mark.slow
def test_cli_run_with_huge_lr_exits_1_after_one_step_with_the_message(cli, tmp_path):
    result = cli(*TINY, "optim.lr=1e6")
    assert result.returncode == 1, result.output[-3000:]
    assert "diverged at step 1" in result.output and "last good checkpoint" in result.output
    run_dir = only_run_dir(tmp_path / "outputs" / "runs")
    assert read_json(run_dir / "summary.json")["status"] == "diverged"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
