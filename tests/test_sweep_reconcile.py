"""The truth after faults (dlrun.sweeps.reconcile): the trial folders are the truth and the
study follows them, on every sweep start and on `dlrun summary`. Real CLI processes, real
training, a real journal; the faults are real too: a kill -9 mid-training, and a study that
never heard of a finished trial (its tell cut off the journal, as a worker killed between the
run's end and the tell leaves it)."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from conftest import read_json, run_cli, start_cli
from dlrun.sweeps import study as studies
from dlrun.sweeps.storage import JOURNAL_FILE

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
         "trainer.test_after_fit=false", "trainer.progress_bar=false", "hardware.threads=1", "logger=csv"]
POPULATION = ["launcher=population", "hydra.launcher.size=2", "optim.lr=0.01,0.02"]
SET_TRIAL_STATE_VALUES, COMPLETE = 6, 1  # optuna.storages.journal's operation code, TrialState.COMPLETE


def untell(sweep_dir: Path) -> int:
    """Cut every tell of a completed trial out of the journal: the study never heard the results."""
    journal = sweep_dir / JOURNAL_FILE
    lines = journal.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not (json.loads(line)["op_code"] == SET_TRIAL_STATE_VALUES
                                           and json.loads(line).get("state") == COMPLETE)]
    journal.write_text("".join(kept))
    return len(lines) - len(kept)


def trial_folders(sweep_dir: Path) -> dict:
    return {int(path.parent.name): read_json(path) for path in sweep_dir.glob("*/summary.json")}


@pytest.mark.slow
def test_members_completed_on_disk_are_told_their_values_not_trained_again(tmp_path):
    sweep_dir = tmp_path / "untold"
    command = ["-m", *QUICK, *POPULATION, f"hydra.sweep.dir={sweep_dir}"]
    first = run_cli(command, cwd=tmp_path, env=ONE_THREAD)
    assert first.returncode == 0, first.output[-3000:]
    recorded = {number: summary["objective"]["value"] for number, summary in trial_folders(sweep_dir).items()}
    assert sorted(recorded) == [0, 1] and all(value is not None for value in recorded.values())
    assert untell(sweep_dir) == 2
    assert [trial.state.name for trial in studies.load(sweep_dir).trials] == ["RUNNING", "RUNNING"]
    copy = shutil.copytree(sweep_dir, tmp_path / "copy")

    again = run_cli(command, cwd=tmp_path, env=ONE_THREAD)  # the same command: the sweep continues
    assert again.returncode == 0, again.output[-3000:]
    assert "but its result never reached the study: told" in again.output
    assert sorted(trial_folders(sweep_dir)) == [0, 1], "a completed trial was trained again"
    trials = studies.load(sweep_dir).trials
    assert [(trial.state.name, trial.value) for trial in trials] == [("COMPLETE", recorded[0]), ("COMPLETE", recorded[1])]
    assert "2 trials (2 completed)" in again.stdout

    summary = run_cli(["summary", str(copy)], cwd=tmp_path)  # dlrun summary reconciles the same way
    assert summary.returncode == 0, summary.output
    assert [(trial.state.name, trial.value) for trial in studies.load(copy).trials] == \
        [("COMPLETE", recorded[0]), ("COMPLETE", recorded[1])]
    assert "2 trials (2 completed)" in summary.stdout


@pytest.mark.slow
def test_a_population_killed_mid_training_leaves_no_member_running_after_the_next_start(tmp_path):
    sweep_dir = tmp_path / "killed"
    search = ["-m", *POPULATION, f"hydra.sweep.dir={sweep_dir}"]
    worker = start_cli([*search, *QUICK, "trainer.max_epochs=100000"], tmp_path, env=ONE_THREAD)
    started = time.monotonic()
    while not (sweep_dir / "1" / "summary.json").is_file() and worker.poll() is None:  # the members' first second
        assert time.monotonic() - started < 300, "the population did not start training"
        time.sleep(0.1)
    time.sleep(2.0)
    assert worker.poll() is None, worker.communicate()[0][-3000:]
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    assert [summary["status"] for summary in trial_folders(sweep_dir).values()] == ["running", "running"]

    summary = run_cli(["summary", str(sweep_dir)], cwd=tmp_path)  # the truth, before anything runs again
    assert summary.returncode == 0, summary.output
    folders = trial_folders(sweep_dir)
    assert {number: folder["status"] for number, folder in folders.items()} == {0: "interrupted", 1: "interrupted"}
    assert all("stopped without a word" in folder["error"] for folder in folders.values())
    study = studies.load(sweep_dir)
    assert [trial.user_attrs.get("status") for trial in study.trials[:2]] == ["interrupted", "interrupted"]
    assert [trial.state.name for trial in study.trials[2:]] == ["WAITING", "WAITING"], "both points queued again"

    again = run_cli([*search, *QUICK], cwd=tmp_path, env=ONE_THREAD)
    assert again.returncode == 0, again.output[-3000:]
    folders = trial_folders(sweep_dir)
    assert "running" not in {folder["status"] for folder in folders.values()}
    assert [folders[number]["status"] for number in (2, 3)] == ["completed", "completed"]
    assert sorted(folders[number]["config"]["optim"]["lr"] for number in (2, 3)) == [0.01, 0.02]
    assert sorted(trial.state.name for trial in studies.load(sweep_dir).trials) == \
        ["COMPLETE", "COMPLETE", "FAIL", "FAIL"]
