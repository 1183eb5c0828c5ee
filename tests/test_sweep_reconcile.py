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
from dlrun.base.optuna_private import storage_of, trial_id
from dlrun.sweeps import study as studies
from dlrun.sweeps.reconcile import RESULT_OF, reconcile, settle_from_folder
from dlrun.sweeps.storage import JOURNAL_FILE, Location
from dlrun.sweeps.workers import RETRY_ATTR, WORKER_ATTR, FolderPresence, close, reap, retry
from dlrun.training.summary import new_summary, write_summary

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


def dead_worker() -> str:
    """The id of a worker of this host whose process has ended."""
    import socket
    import subprocess

    ended = subprocess.Popen(["true"])
    ended.wait()
    return f"{socket.gethostname()}-{ended.pid}"


def journal_study(sweep_dir: Path):
    import optuna

    location = Location(sweep_dir)
    return studies.create_or_continue(location, "minimize", optuna.samplers.RandomSampler(seed=0), None,
                                      "val/loss")


def claimed_trial(study, worker: str, x: float):
    """A RUNNING trial with its point, stamped with `worker`, as a worker's claim leaves it."""
    import optuna

    study.enqueue_trial({"x": x})
    asked = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage_of(study).set_trial_user_attr(trial_id(asked), WORKER_ATTR, worker)
    return storage_of(study).get_trial(trial_id(asked))


def finished_folder(sweep_dir: Path, number: int, value: float, status="completed") -> Path:
    """The trial's folder as its run leaves it: summary.json with its status and objective value (no live owner)."""
    folder = sweep_dir / str(number)
    summary = new_summary("t", folder, {"x": 0}, "val/loss")
    summary.update(status=status, objective={"metric": "val/loss", "value": value}, wall_time_s=1.0)
    folder.mkdir(parents=True)
    write_summary(summary, folder)
    return folder


def test_a_dead_workers_completed_trial_is_told_its_folders_value(tmp_path):
    study = journal_study(tmp_path)
    finished_folder(tmp_path, claimed_trial(study, dead_worker(), 0.3).number, 0.25)
    done = reconcile(study, tmp_path)
    assert done.told == [0] and not done.closed
    assert [(trial.state.name, trial.value, trial.user_attrs["run_dir"]) for trial in study.trials] == \
        [("COMPLETE", 0.25, str(tmp_path / "0"))]
    assert not reconcile(study, tmp_path).told, "told once"


def test_a_live_workers_trial_is_left_to_it(tmp_path):
    import os
    import socket

    study = journal_study(tmp_path)
    finished_folder(tmp_path, claimed_trial(study, f"{socket.gethostname()}-{os.getpid()}", 0.3).number, 0.25)
    assert not reconcile(study, tmp_path).told and study.trials[0].state.name == "RUNNING"


def test_reap_tells_a_dead_workers_finished_trial_instead_of_queueing_it_again(tmp_path):
    study = journal_study(tmp_path)
    finished_folder(tmp_path, claimed_trial(study, dead_worker(), 0.3).number, 0.5)
    presence = FolderPresence(tmp_path, "me-1")
    assert reap(study, presence, settle=lambda frozen: settle_from_folder(study, frozen, tmp_path)) == 0
    assert [(trial.state.name, trial.value) for trial in study.trials] == [("COMPLETE", 0.5)], "no retry queued"


def test_an_interrupted_trial_that_completed_gives_its_value_to_its_queued_retry(tmp_path):
    study = journal_study(tmp_path)
    frozen = claimed_trial(study, dead_worker(), 0.3)
    close(study, frozen, "interrupted")  # another worker reaped it before its tell landed
    retry(study, storage_of(study).get_trial(trial_id(frozen)))
    finished_folder(tmp_path, 0, 0.125)
    assert reconcile(study, tmp_path).told == [0]
    first, second = study.trials
    assert first.state.name == "FAIL" and (second.state.name, second.value) == ("COMPLETE", 0.125)
    assert second.params == {"x": 0.3} and second.user_attrs[RETRY_ATTR] == 0 and second.user_attrs[RESULT_OF] == 0
    assert second.user_attrs["run_dir"] == str(tmp_path / "0")
    assert not reconcile(study, tmp_path).told and len(study.trials) == 2, "recorded once"


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
