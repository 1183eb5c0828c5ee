"""Stopping and resuming: a real SIGTERM (or Ctrl+C) mid-epoch saves last.ckpt and ends the
run `interrupted`; `dlrun resume` continues it in its folder and ends exactly where an
uninterrupted run with the same seed ends. Bad resume requests fail before training."""

from __future__ import annotations

import csv
import re
import shutil
import signal
import subprocess
import time

import pytest
import torch

import dlrun
from conftest import TINY, read_json, run_cli, start_cli
from dlrun.cli.commands.resume import main as resume

# 300 batches of 2 per epoch, 2 epochs: long enough (a few seconds) to be stopped mid-epoch
EPOCHS = 8  # long enough (2400 steps of a fraction of a millisecond) that a signal lands mid-training
LONG = ["data.batch_size=2", f"trainer.max_epochs={EPOCHS}", "trainer.limit_train_batches=300", "trainer.limit_val_batches=5",
        "trainer.limit_test_batches=5", "trainer.log_every_n_steps=25", "trainer.progress_bar=false",
        "hardware.threads=1"]  # the same arithmetic in this process and in the CLI subprocesses
STEPS_PER_EPOCH = 300


def training_rows(run_dir) -> list:
    """metrics.csv's (step, train/loss, val/loss) rows: the curves, without test rows."""
    with open(run_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    return [(row["step"], row["train/loss"], row["val/loss"]) for row in rows if row["train/loss"] or row["val/loss"]]


def start_and_signal(run_dir, signum, cwd) -> subprocess.CompletedProcess:
    """`dlrun LONG` in a new process; once training has started (last.ckpt written at the
    start), wait a moment and send `signum` to it, like a scheduler or a user would."""
    process = start_cli([*LONG, f"hydra.run.dir={run_dir}"], cwd)
    started = time.monotonic()
    while not (run_dir / "checkpoints" / "last.ckpt").is_file() and process.poll() is None:
        assert time.monotonic() - started < 120, "training did not start"
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, output)


@pytest.mark.slow
def test_sigterm_mid_epoch_then_resume_ends_like_an_uninterrupted_run(tmp_path):
    whole = dlrun.run(LONG, run_dir=tmp_path / "whole")
    run_dir = tmp_path / "stopped"
    stopped = start_and_signal(run_dir, signal.SIGTERM, tmp_path)

    assert stopped.returncode == 1, stopped.stdout[-3000:]
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "interrupted"
    step = summary["global_step"]
    assert 0 < step < EPOCHS * STEPS_PER_EPOCH and step % STEPS_PER_EPOCH, f"not stopped mid-epoch: step {step}"
    assert f"interrupted at step {step}" in stopped.stdout and "dlrun resume" in stopped.stdout
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == step

    resumed = run_cli(["resume", str(run_dir)], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.output[-3000:]
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "completed" and summary["resumed_from"].endswith("last.ckpt")
    assert summary["global_step"] == whole["global_step"] == EPOCHS * STEPS_PER_EPOCH
    assert summary["final"]["val/loss"] == whole["final"]["val/loss"]
    assert summary["test"] == whole["test"]
    assert training_rows(run_dir) == training_rows(tmp_path / "whole"), "metrics.csv continues, no gap or repeat"


@pytest.mark.slow
def test_ctrl_c_stops_after_the_batch_with_a_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    stopped = start_and_signal(run_dir, signal.SIGINT, tmp_path)
    assert stopped.returncode == 1, stopped.stdout[-3000:]
    assert "Ctrl+C: stopping after this batch" in stopped.stdout
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "interrupted" and summary["last_checkpoint"].endswith("last.ckpt")
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == summary["global_step"]


EMA_TINY = [*TINY, "callbacks.averaging.name=ema", "callbacks.averaging.ema.decay=0.9", "model.dropout=0.2",
            "callbacks.gradient_noise.enabled=true"]


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """A finished 1-epoch run of EMA_TINY (dropout and gradient noise: random states matter)."""
    run_dir = tmp_path_factory.mktemp("one_epoch")
    dlrun.run([*EMA_TINY, "trainer.max_epochs=1"], run_dir=run_dir)
    return run_dir


def test_resume_extends_a_finished_run_exactly_like_a_longer_run(tmp_path):
    whole = dlrun.run(EMA_TINY, run_dir=tmp_path / "whole")  # 2 epochs
    extended = tmp_path / "extended"
    dlrun.run([*EMA_TINY, "trainer.max_epochs=1"], run_dir=extended)
    assert resume([str(extended), "trainer.max_epochs=2"]) == 0
    summary = read_json(extended / "summary.json")
    assert summary["global_step"] == whole["global_step"] == 10
    assert summary["final"]["val/loss"] == whole["final"]["val/loss"]  # EMA average and raw weights both restored
    assert summary["test"] == whole["test"]
    assert training_rows(extended) == training_rows(tmp_path / "whole")
    assert "trainer.max_epochs=2" in (extended / ".hydra" / "overrides.yaml").read_text()
    assert "max_epochs: 2" in (extended / ".hydra" / "config.yaml").read_text()


@pytest.mark.slow
def test_resume_prints_the_lines_a_run_prints(one_epoch, tmp_path):
    run_dir = shutil.copytree(one_epoch, tmp_path / "run")
    resumed = run_cli(["resume", str(run_dir), "trainer.max_epochs=2"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert not re.search(r"^\[\d{4}-\d\d-\d\d ", resumed.output, re.M), resumed.output  # no `[time][logger][INFO]`
    assert "`Trainer.fit` stopped: `max_epochs=2` reached." in resumed.output.splitlines()  # as a run's console
    assert "[completed]" in resumed.output and f"run folder: {run_dir.resolve()}" in resumed.output
    assert "[lightning.pytorch" in (run_dir / "run.log").read_text()  # run.log keeps the full format


@pytest.mark.parametrize("args, message", [
    ([], "usage: dlrun resume RUN_DIR"),
    (["optim.lr=0.1"], "optim.lr=0.1: the optimizer and schedule resume from the checkpoint"),
    (["model.width=8"], "does not fit the model of this config"),
    (["trainer.nope=1"], "trainer.nope=1: unknown key 'trainer.nope'"),
], ids=["no run folder", "optim override", "other model", "unknown key"])
def test_bad_resume_requests_exit_2_before_training(one_epoch, capsys, args, message):
    before = (one_epoch / "summary.json").read_text()
    assert resume([str(one_epoch), *args] if args else []) == 2
    assert message in capsys.readouterr().err
    assert (one_epoch / "summary.json").read_text() == before


def test_corrupt_last_checkpoint_gives_a_clear_error(one_epoch, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(one_epoch, broken)
    last = broken / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a copy cut short
    assert resume([str(broken)]) == 2
    assert f"{last}: corrupt or not a checkpoint" in capsys.readouterr().err
    assert read_json(broken / "summary.json")["status"] == "completed"  # the folder is left alone
