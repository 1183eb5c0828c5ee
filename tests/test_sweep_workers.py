"""Sweep workers: the same `dlrun -m` command started several times shares one study.

End to end with real processes, real files and a real PostgreSQL server (started by the
tests, skipped where its binaries are absent): exactly n_trials trials whoever asks, a killed
worker's point retried, one trial per GPU, and a cut-off journal read. The claiming and
slot logic on a real journal study with an in-process launcher is tested here too (fast).
"""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, read_json, run_cli
from postgres_server import PostgresServer, free_port
from dlrun.sweeps import study as studies
from dlrun.sweeps.devices import DevicePlan
from dlrun.sweeps.storage import JOURNAL_FILE, POINTER_FILE, cut_off_tail
from dlrun.sweeps.workers import RETRY_ATTR, WORKER_ATTR
from test_sweep_study import LOG_LR, Launcher, bowl, sweep

QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
         "trainer.test_after_fit=false", "trainer.progress_bar=false", "hardware.threads=1", "logger=csv"]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _env(extra=None) -> dict:
    return {**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPO / "tests") + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **(extra or {})}


def start_worker(cwd, args, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dlrun", "-m", *args], cwd=cwd, env=_env(extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(workers, timeout=900) -> list:
    """[(exit code, output)] of each worker process."""
    return [(worker.wait(timeout=timeout), worker.communicate()[0]) for worker in workers]


def summary_rows(sweep_dir: Path) -> list:
    with open(sweep_dir / "summary.csv") as handle:
        return list(csv.DictReader(handle))


def assert_exactly(sweep_dir: Path, n: int) -> list:
    """n completed trials with distinct points in summary.csv, each in its own trial folder."""
    rows = summary_rows(sweep_dir)
    assert [row["status"] for row in rows] == ["completed"] * n, rows
    lrs = [float(row["optim.lr"]) for row in rows]
    assert len(set(lrs)) == n, f"two trials drew the same point: {lrs}"
    for row in rows:
        summary = read_json(sweep_dir / row["trial"] / "summary.json")
        assert summary["status"] == "completed" and summary["config"]["optim"]["lr"] == float(row["optim.lr"])
        assert summary["objective"]["value"] == pytest.approx(float(row["val/loss"]))
    return rows


# ---------------------------------------------------------------- real processes, one journal


@pytest.mark.slow
def test_three_workers_started_at_once_run_exactly_n_trials(tmp_path):
    sweep_dir = tmp_path / "shared"
    command = [*QUICK, LOG_LR, "hydra.sweeper.n_trials=6", f"hydra.sweep.dir={sweep_dir}"]
    ended = finish([start_worker(tmp_path, command) for _ in range(3)])
    for code, output in ended:
        assert code == 0, output[-3000:]
        assert "Traceback" not in output
    rows = assert_exactly(sweep_dir, 6)
    study = studies.load(sweep_dir)
    ran = [trial for trial in study.trials if trial.state.name == "COMPLETE"]
    assert sorted(trial.number for trial in ran) == sorted(int(row["trial"]) for row in rows)
    assert len({trial.user_attrs[WORKER_ATTR] for trial in ran}) >= 2, "the workers shared the trials"
    assert not list((sweep_dir / "workers").glob("*/owner.json")), "every worker let its slot go"
    again = run_cli(["summary", str(sweep_dir)], cwd=tmp_path)
    assert again.returncode == 0 and f"sweep {sweep_dir}: 6 trials (6 completed)" in again.stdout


@pytest.mark.slow
def test_a_killed_worker_interval_trial_is_retried_with_its_parameters(tmp_path):
    """SIGKILL (no handler runs) mid-trial, then the sweep's command again (its trials made
    short: the same study, the same search space)."""
    sweep_dir = tmp_path / "killed"
    search = [LOG_LR, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep_dir}"]
    long_trial = [*QUICK, "trainer.max_epochs=1000"]
    worker = start_worker(tmp_path, [*long_trial, *search])
    started = time.monotonic()
    while not (sweep_dir / "0" / "metrics.csv").is_file() and worker.poll() is None:
        assert time.monotonic() - started < 180, "the first trial did not start training"
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=60)
    killed = studies.load(sweep_dir).trials[0]
    assert killed.state.name == "RUNNING" and math.log10(killed.params["optim.lr"]) % 1 != 0

    result = run_cli(["-m", *QUICK, *search], cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.output[-3000:]
    assert "1 trial(s) left running by a stopped worker: marked interrupted" in result.output
    rows = {row["trial"]: row for row in summary_rows(sweep_dir)}
    assert rows["0"]["status"] == "interrupted"
    assert read_json(sweep_dir / "0" / "summary.json")["status"] == "interrupted", "the folder agrees with the study"
    assert [rows[n]["status"] for n in ("1", "2")] == ["completed", "completed"]
    assert float(rows["1"]["optim.lr"]) == killed.params["optim.lr"], "the killed point, exactly"
    assert float(rows["2"]["optim.lr"]) != killed.params["optim.lr"]
    assert studies.load(sweep_dir).trials[1].user_attrs[RETRY_ATTR] == 0
    assert read_json(sweep_dir / "1" / "summary.json")["config"]["optim"]["lr"] == killed.params["optim.lr"]


# ---------------------------------------------------------------- real PostgreSQL


@pytest.fixture(scope="session")
def postgres_url():
    """postgresql://... of a throwaway PostgreSQL 15 server on 127.0.0.1, stopped after the tests."""
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.mark.slow
def test_two_workers_share_one_postgres_study(tmp_path, postgres_url):
    """Two workers, each with a folder of its own (no shared filesystem), one database study."""
    where = [f"hydra.sweeper.storage={postgres_url}", "hydra.sweeper.study_name=lr-search"]
    folders = [tmp_path / "machine-a", tmp_path / "machine-b"]
    ended = finish([start_worker(tmp_path, [*QUICK, LOG_LR, "hydra.sweeper.n_trials=4", *where,
                                            f"hydra.sweep.dir={folder}"]) for folder in folders])
    for code, output in ended:
        assert code == 0, output[-3000:]
    summary = run_cli(["summary", str(folders[0])], cwd=tmp_path)  # found through study.json
    assert summary.returncode == 0, summary.output
    assert f"sweep {folders[0]}: 4 trials (4 completed)" in summary.stdout
    rows = summary_rows(folders[0])
    assert [row["status"] for row in rows] == ["completed"] * 4 and len({row["optim.lr"] for row in rows}) == 4
    ran_here = {int(path.parent.name) for folder in folders for path in folder.glob("*/summary.json")}
    assert ran_here == {int(row["trial"]) for row in rows}, "every trial ran once, in one of the two folders"
    assert read_json(folders[0] / POINTER_FILE) == {"storage": postgres_url.replace(":not-written", ""),
                                                   "study_name": "lr-search"}
    for path in (path for folder in folders for path in folder.rglob("*") if path.is_file()):
        assert b"not-written" not in path.read_bytes(), path  # multirun.yaml and .hydra/ too (masked: ***)
    assert not any("not-written" in output for _, output in ended)


# ---------------------------------------------------------------- one trial per GPU


def test_parallel_single_device_trials_are_pinned_to_gpus_in_turn():
    """No GPU here: the GPU list is faked (CUDA_VISIBLE_DEVICES=3,5 on a CPU machine)."""
    single = {"accelerator": "gpu", "devices": 1, "num_nodes": 1}
    os.environ["CUDA_VISIBLE_DEVICES"] = "3,5"
    try:
        plan = DevicePlan(pin=True)
        assert [plan.env(slot, single) for slot in range(3)] == [
            {"CUDA_VISIBLE_DEVICES": "3"}, {"CUDA_VISIBLE_DEVICES": "5"}, {"CUDA_VISIBLE_DEVICES": "3"}]
        assert plan.env(1, {**single, "accelerator": "auto"}) == {"CUDA_VISIBLE_DEVICES": "5"}
        assert plan.env(1, {**single, "devices": "auto"}) == {}, "a DDP trial uses every GPU"
        assert plan.env(1, {**single, "accelerator": "cpu"}) == {}
        assert DevicePlan(pin=False).env(1, single) == {}, "not for a cluster launcher or one slot"
    finally:
        del os.environ["CUDA_VISIBLE_DEVICES"]


@pytest.mark.slow
def test_joblib_slots_give_each_running_trial_its_own_gpu(tmp_path):
    """No GPU here: 2 GPUs are faked through CUDA_VISIBLE_DEVICES=0,1 and the trials use
    hardware.accelerator=auto (a GPU where there is one, here the CPU); what each trial's
    process was given is in its Hydra record."""
    sweep_dir = tmp_path / "gpus"
    result = run_cli(["-m", *QUICK, "hardware.accelerator=auto", "launcher=joblib", "hydra.launcher.n_jobs=2",
                      "optim.lr=0.01,0.02,0.03,0.04", f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path,
                     env={**ONE_THREAD, "CUDA_VISIBLE_DEVICES": "0,1"})
    assert result.returncode == 0, result.output[-3000:]
    given = {}
    for number in range(4):
        hydra = yaml.safe_load((sweep_dir / str(number) / ".hydra" / "hydra.yaml").read_text())["hydra"]
        given[number] = str(hydra["job"]["env_set"]["CUDA_VISIBLE_DEVICES"])
    assert set(given.values()) == {"0", "1"} and given[0] != given[1], given
    assert all(row["status"] == "completed" for row in summary_rows(sweep_dir))


# ---------------------------------------------------------------- in-process: slots, claims, files


def test_a_free_slot_starts_the_next_trial_while_a_long_one_runs(tmp_path):
    """Trial 0 runs until three other trials have ended: with a batch barrier it never would."""
    others_done = threading.Event()
    ended = []

    def launch(number, overrides, slot):
        if number == 0:
            assert others_done.wait(timeout=60), "no other trial ended while trial 0 ran"
        else:
            ended.append(number)
            if len(ended) == 3:
                others_done.set()
        return bowl(overrides)

    report = sweep(tmp_path, [LOG_LR], launch, n_trials=4, n_jobs=2)
    assert ended == [1, 2, 3] and sorted(row.number for row in report.rows) == [0, 1, 2, 3]
    assert all(row.status == "completed" for row in report.rows)


def test_workers_racing_for_the_last_places_take_exactly_n(tmp_path, monkeypatch):
    """Two workers in one process (each its own study object and worker id, as two processes
    have) ask at the same time: a trial past n_trials is surplus, never run and never shown."""
    monkeypatch.setattr("dlrun.sweeps.driver.this_worker", lambda: f"worker-{threading.current_thread().name}")
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=1)
    launchers = [Launcher(), Launcher()]
    start = threading.Barrier(2)

    def worker(launcher):
        start.wait()
        sweep(tmp_path, [LOG_LR], launcher, n_trials=5, n_jobs=2)

    threads = [threading.Thread(target=worker, args=(launcher,), name=name) for launcher, name in zip(launchers, "ab")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ran = sorted(number for launcher in launchers for number in launcher.numbers)
    assert len(ran) == 4 and len(set(ran)) == 4, ran
    report = studies.load(tmp_path)
    shown = [trial for trial in report.trials if trial.user_attrs.get("status") != "surplus"]
    assert len([trial for trial in shown if trial.state.name == "COMPLETE"]) == 5
    assert len({trial.params["optim.lr"] for trial in shown}) == 5


def test_a_cut_off_journal_is_read_up_to_its_last_complete_record(tmp_path):
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=3)
    journal = tmp_path / JOURNAL_FILE
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-25])  # the last record (trial 2's tell) cut off mid-line
    assert cut_off_tail(journal) == len(whole.splitlines()[-1]) - 24

    result = run_cli(["summary", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    assert "the last record is cut off" in result.output and "skipped" in result.output
    assert f"sweep {tmp_path}: 3 trials (2 completed, 1 running)" in result.stdout

    launcher = Launcher()
    sweep(tmp_path, [LOG_LR], launcher, n_trials=4)  # a worker drops the cut-off tail before it writes
    assert cut_off_tail(journal) == 0
    rows = {row["trial"]: row["status"] for row in summary_rows(tmp_path)}
    assert rows["0"] == rows["1"] == "completed" and len(rows) >= 4


def test_summary_csv_is_replaced_whole(tmp_path):
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=2)
    assert not [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
    assert len(summary_rows(tmp_path)) == 2


def test_a_trial_process_finds_a_database_study_through_its_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = {"storage": url, "study_name": "s1"}
    sweep(tmp_path / "a", [LOG_LR], Launcher(), n_trials=1, pruner="median", **settings)
    assert read_json(tmp_path / "a" / POINTER_FILE) == {"storage": url, "study_name": "s1"}
    study = studies.load(tmp_path / "a")
    asked = study.ask({"optim.lr": study.trials[0].distributions["optim.lr"]})
    monkeypatch.setenv("DLRUN_SWEEP_STORAGE", url)
    for name, value in studies.trial_env(tmp_path / "a", asked.number, "s1").items():
        monkeypatch.setenv(name, value)
    trial, record = studies.trial_of_this_process()
    assert trial.number == asked.number and record["pruner"]["name"] == "median"


@pytest.mark.slow
def test_bad_storage_settings_stop_before_any_trial_with_exit_2(tmp_path):
    sweep_dir = tmp_path / "never"
    cases = {
        "hydra.sweeper.storage=redis://localhost:6379": "hydra.sweeper.storage='redis://localhost:6379': expected "
                                                        "null (the journal file in the sweep folder) or a database URL",
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/s.db": "hydra.sweeper.study_name=None: expected a name with "
                                                           "hydra.sweeper.storage=URL",
    }
    for setting, message in cases.items():
        result = run_cli(["-m", LOG_LR, "hydra.sweeper.n_trials=2", setting, f"hydra.sweep.dir={sweep_dir}"],
                         cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, result.output[-2000:]
        assert "Traceback" not in result.output and not sweep_dir.exists()
    unreachable = f"postgresql://me:secret@127.0.0.1:{free_port()}/sweeps"
    result = run_cli(["-m", LOG_LR, "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage={unreachable}",
                      "hydra.sweeper.study_name=s", f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path)
    assert result.returncode == 2 and "cannot open it" in result.stderr, result.output[-2000:]
    assert "secret" not in result.output and "Traceback" not in result.output and not sweep_dir.exists()
    assert f"hydra.sweeper.storage={unreachable.replace(':secret@', ':***@')}: cannot open it" in result.stderr
