"""Faults at a sweep's edges, with real processes: a PostgreSQL restart under running
workers (ridden out, or given up past hydra.sweeper.storage_outage_s with the command that
continues), and a journal worker killed holding the last trial (the others stay, take its
point again and leave with n_trials finished)."""

from __future__ import annotations

import logging
import shlex
import signal
import time

import optuna
import pytest

from conftest import read_json, run_cli
from dlrun.sweeps import study as studies
from dlrun.sweeps.outage import Patience, StorageLost, is_outage
from dlrun.sweeps.workers import RETRY_ATTR
from postgres_server import PostgresServer
from test_sweep_study import LOG_LR
from test_sweep_workers import ONE_THREAD, QUICK, finish, start_worker, summary_rows

LOST = "lost the connection to the study's storage"
BACK = "the study's storage is back after"
OUTAGE_S = 10


@pytest.fixture(scope="module")
def server():
    server = PostgresServer()
    try:
        yield server
    finally:
        server.remove()


def wait_for(condition, workers, what: str, limit_s: float = 300):
    """Poll until condition() is true; fails when a worker exits first or after limit_s."""
    started = time.monotonic()
    while not condition():
        exited = [worker.returncode for worker in workers if worker.poll() is not None]
        assert not exited, f"a worker exited ({exited}) before {what}"
        assert time.monotonic() - started < limit_s, f"no {what} after {limit_s} s"
        time.sleep(0.2)


def trial_folders(folders) -> dict:
    """{trial number: its summary.json} over the workers' sweep folders."""
    return {int(path.parent.name): read_json(path) for folder in folders for path in folder.glob("*/summary.json")}


@pytest.mark.slow
def test_workers_ride_out_a_database_restart(tmp_path, server):
    """Stopped for 10 s once the first trial runs, restarted on the same port: nothing is lost."""
    where = [f"hydra.sweeper.storage={server.url}", "hydra.sweeper.study_name=restart"]
    folders = [tmp_path / "machine-a", tmp_path / "machine-b"]
    workers = [start_worker(tmp_path, [*QUICK, LOG_LR, "hydra.sweeper.n_trials=4", *where, f"hydra.sweep.dir={folder}"])
               for folder in folders]
    wait_for(lambda: trial_folders(folders), workers, "the first trial's folder")
    server.stop()
    time.sleep(OUTAGE_S)
    server.start()
    ended = finish(workers, timeout=600)

    for index, (code, output) in enumerate(ended):
        (tmp_path / f"worker-{index}.log").write_text(output)  # what each worker printed, kept for a look
        assert code == 0, output[-3000:]
        assert "Traceback" not in output and "not-written" not in output, output[-3000:]
        assert output.count(LOST) == 1 and output.count(BACK) == 1, output[-3000:]
        assert output.index(LOST) < output.index(BACK)
    study = optuna.load_study(study_name="restart", storage=server.url)
    assert [trial.state.name for trial in study.trials].count("COMPLETE") == 4, [t.state for t in study.trials]
    assert not [trial for trial in study.trials if trial.state.name == "RUNNING"]
    by_number = {trial.number: trial for trial in study.trials}
    folders_say = trial_folders(folders)
    assert folders_say, "the trials ran in the workers' folders"
    for number, summary in folders_say.items():
        assert summary["status"] == by_number[number].user_attrs["status"], number
        if summary["status"] == "completed":
            assert by_number[number].value == pytest.approx(summary["objective"]["value"])
    assert [row["status"] for row in summary_rows(folders[0])] == ["completed"] * 4


@pytest.mark.slow
def test_an_outage_past_its_bound_stops_the_worker_with_the_command_that_continues(tmp_path, server):
    """storage_outage_s=3 and the server stays down: exit 1, one line; its finished trial's
    result is told from its folder by the printed command once the server is back."""
    folder = tmp_path / "sweep"
    where = [f"hydra.sweeper.storage={server.url}", "hydra.sweeper.study_name=gone"]
    worker = start_worker(tmp_path, [*QUICK, "trainer.max_epochs=15", LOG_LR, "hydra.sweeper.n_trials=2",
                                     "hydra.sweeper.storage_outage_s=3", *where, f"hydra.sweep.dir={folder}"])
    # trial 0 trains (it has read the study): it ends in the outage, and its tell cannot land
    wait_for(lambda: (folder / "0" / "metrics.csv").is_file(), [worker], "trial 0's training")
    server.stop()
    try:
        ((code, output),) = finish([worker], timeout=300)
    finally:
        server.start()
    assert code == 1, output[-3000:]
    assert "Traceback" not in output and "not-written" not in output, output[-3000:]
    assert output.count(LOST) == 1 and BACK not in output
    (last,) = [line for line in output.splitlines() if line.startswith("dlrun sweep:")]
    assert last.startswith("dlrun sweep: the study's storage postgresql://postgres:***@127.0.0.1"), output[-4000:]
    assert "unreachable for more than 3 s (hydra.sweeper.storage_outage_s): this worker stopped" in last
    command = last.split("to continue once it is back: ", 1)[1]
    assert f"hydra.sweep.dir={folder}" in command and "hydra.sweeper.study_name=gone" in command
    assert f"hydra.sweeper.storage={server.url.replace(':not-written', '')}" in command

    finished = read_json(folder / "0" / "summary.json")
    assert finished["status"] == "completed", "the trial itself ran to its end through the outage"
    args = shlex.split(command)[1:]  # `dlrun -m ...` with no password: trust auth lets it in
    again = run_cli([*args, "trainer.max_epochs=1"], cwd=tmp_path, env=ONE_THREAD)  # trial 1 made short
    assert again.returncode == 0, again.output[-3000:]
    assert "trial 0 completed in" in again.output and "not trained again" in again.output
    study = optuna.load_study(study_name="gone", storage=server.url)
    completed = [trial for trial in study.trials if trial.state.name == "COMPLETE"]
    assert len(completed) == 2
    assert study.trials[0].value == pytest.approx(finished["objective"]["value"])


@pytest.mark.slow
def test_a_worker_killed_holding_the_last_trial_is_replaced_before_the_others_leave(tmp_path):
    """Three journal workers; one is handed trial 0 and holds it (stopped), the two others take
    every other place, then it is killed (SIGKILL): they reap its trial, run its point again,
    and leave with n_trials completed."""
    sweep_dir = tmp_path / "shared"
    search = [LOG_LR, "hydra.sweeper.n_trials=4", f"hydra.sweep.dir={sweep_dir}"]
    victim = start_worker(tmp_path, [*QUICK, "trainer.max_epochs=100000", *search])
    wait_for(lambda: (sweep_dir / "0" / "summary.json").is_file(), [victim], "trial 0's run")
    victim.send_signal(signal.SIGSTOP)  # alive (its pid and owner file say so) but using no CPU
    survivors = [start_worker(tmp_path, [*QUICK, *search]) for _ in range(2)]

    def others_done() -> bool:
        return sum(trial.state.name == "COMPLETE" for trial in studies.load(sweep_dir).trials) == 3

    wait_for(others_done, [victim, *survivors], "the three other trials' end")
    time.sleep(2 * 1.0)  # both survivors now wait for trial 0 (before the fix: they had left)
    assert all(worker.poll() is None for worker in survivors), "a worker left while trial 0 had not ended"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    ended = finish(survivors, timeout=300)

    for code, output in ended:
        assert code == 0, output[-3000:]
        assert "Traceback" not in output
    assert any("waiting for trial(s) 0 to end" in output for _, output in ended)
    trials = studies.load(sweep_dir).trials
    assert trials[0].state.name == "FAIL" and trials[0].user_attrs["status"] == "interrupted"
    retried = [trial for trial in trials if trial.user_attrs.get(RETRY_ATTR) == 0]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == trials[0].params, "the killed trial's point, exactly"
    rows = summary_rows(sweep_dir)
    assert sorted(row["status"] for row in rows) == ["completed"] * 4 + ["interrupted"]
    assert read_json(sweep_dir / "0" / "summary.json")["status"] == "interrupted"
    for output in (output for _, output in ended):
        assert "4 completed" in output.splitlines()[-1] or "(4 completed" in output, output[-1500:]


def test_a_storage_outage_bound_that_is_not_a_positive_number_stops_before_any_trial(tmp_path):
    result = run_cli(["-m", LOG_LR, "hydra.sweeper.n_trials=2", "hydra.sweeper.storage_outage_s=0",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert result.returncode == 2, result.output[-2000:]
    assert "hydra.sweeper.storage_outage_s=0: expected a number of seconds > 0" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "sweep").exists()


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def sweep_lines():
    handler = Lines()
    logging.getLogger("dlrun.sweep").addHandler(handler)
    try:
        yield handler.lines
    finally:
        logging.getLogger("dlrun.sweep").removeHandler(handler)


def test_patience_rides_out_a_lost_connection_and_says_so_twice(tmp_path, sweep_lines):
    """A real SQLAlchemy engine on a SQLite file whose folder is missing (unable to open: an
    OperationalError, as a refused connection is), made reachable on the third attempt."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'missing' / 'study.db'}")
    attempts = []

    def query():
        attempts.append(1)
        if len(attempts) == 3:
            (tmp_path / "missing").mkdir()
        with engine.connect() as connection:
            return connection.execute(sqlalchemy.text("select 41 + 1")).scalar()

    assert Patience("sqlite:///study.db", 60).call(query) == 42 and len(attempts) == 3
    assert len(sweep_lines) == 2, sweep_lines
    assert sweep_lines[0].startswith("lost the connection to the study's storage sqlite:///study.db (")
    assert sweep_lines[1].startswith("the study's storage is back after ")


def test_patience_gives_up_past_its_bound_and_then_fails_at_once(tmp_path, sweep_lines):
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'missing' / 'study.db'}")
    patience, attempts = Patience("sqlite:///study.db", 0.3), []

    def query():
        attempts.append(1)
        with engine.connect() as connection:
            return connection.execute(sqlalchemy.text("select 1")).scalar()

    with pytest.raises(StorageLost, match=r"unreachable for more than 0.3 s \(hydra.sweeper.storage_outage_s\)"):
        patience.call(query)
    assert len(attempts) >= 2, "retried before giving up"
    (tmp_path / "missing").mkdir()
    tried = len(attempts)
    with pytest.raises(StorageLost):
        patience.call(query)  # given up: the worker is on its way out, no call waits again
    assert len(attempts) == tried and len(sweep_lines) == 1, sweep_lines


def test_patience_passes_other_errors_through_at_once(sweep_lines):
    def broken():
        raise ValueError("not an outage")

    with pytest.raises(ValueError, match="not an outage"):
        Patience("sqlite:///study.db", 60).call(broken)
    assert sweep_lines == [] and not is_outage(ValueError("x"))
