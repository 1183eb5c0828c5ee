"""The sweep loop on a real Optuna journal study in a tmp sweep folder, with a launcher
that scores each trial in-process (a known function of its parameters) instead of
training: resuming, grids, failures, interrupted trials, summary, plots and refine.
The same paths with real training behind `dlrun -m` are in test_sweep_cli.py."""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import threading

import optuna
import pytest

from dlrun.base.ownership import Heartbeat
from dlrun.sweeps import study as studies
from dlrun.sweeps.driver import SweepRequest, plan_sweep, run_sweep
from dlrun.sweeps.loop import Outcome, SweepAborted, outcome_from_run
from dlrun.report.sweep_plots import axis_scale
from dlrun.sweeps.refine import refine_command
from dlrun.report.sweep_table import summarize
from dlrun.sweeps.space import parse_space
from dlrun.sweeps.workers import RETRY_ATTR, WORKER_ATTR, WORKERS_DIR
from test_sweep_space import DEFAULTS

LOG_LR = "optim.lr=tag(log, interval(1e-5, 1e-1))"


def lr_of(overrides) -> float:
    return float(next(o.split("=", 1)[1] for o in overrides if o.startswith("optim.lr=")))


def bowl(overrides) -> Outcome:
    """val/loss with its minimum at lr = 10^-2.5."""
    return Outcome("completed", (math.log10(lr_of(overrides)) + 2.5) ** 2, wall_time_s=0.1)


class Launcher:
    """launch(number, overrides, slot) -> Outcome; remembers what it was handed, in order."""

    def __init__(self, score=bowl):
        self.score, self.calls = score, []

    def __call__(self, number, overrides, slot):
        self.calls.append((number, slot))
        return self.score(overrides)

    @property
    def numbers(self):
        return [number for number, _ in self.calls]


def sweep(sweep_dir, arguments, launcher, objective="val/loss", **settings):
    request = SweepRequest(settings={**DEFAULTS, **settings}, arguments=list(arguments), sweep_dir=sweep_dir,
                           objective=objective, launcher={}, hydra_overrides=["hydra.sweeper.sampler=random"])
    return run_sweep(request, plan_sweep(request), launcher, summarize)


def test_log_space_random_search_in_bounds_and_seeded(tmp_path):
    launcher = Launcher()
    report = sweep(tmp_path / "a", [LOG_LR, "trainer.max_epochs=3"], launcher, n_trials=12)
    lrs = [row.params["optim.lr"] for row in report.rows]
    assert len(lrs) == 12 and all(1e-5 <= lr <= 1e-1 for lr in lrs)
    assert len({math.floor(math.log10(lr)) for lr in lrs}) >= 3
    assert launcher.numbers == list(range(12))
    values = [row.value for row in report.rows]
    assert values == sorted(values), "table sorted by the objective, best first"
    assert report.best.value == min(values)
    assert report.best_command == f"dlrun trainer.max_epochs=3 optim.lr={report.best.params['optim.lr']!r}"
    again = sweep(tmp_path / "b", [LOG_LR, "trainer.max_epochs=3"], Launcher(), n_trials=12)
    assert sorted(row.params["optim.lr"] for row in again.rows) == sorted(lrs), "same seed, same trials"
    other = sweep(tmp_path / "c", [LOG_LR], Launcher(), n_trials=12, seed=1)
    assert set(row.params["optim.lr"] for row in other.rows).isdisjoint(lrs)


def test_same_command_continues_the_study_without_rerunning(tmp_path):
    first = Launcher()
    sweep(tmp_path, [LOG_LR], first, n_trials=4)
    before = {row.number: row.params["optim.lr"] for row in summarize(tmp_path, show=False).rows}
    second = Launcher()
    report = sweep(tmp_path, [LOG_LR], second, n_trials=8)
    assert second.numbers == [4, 5, 6, 7], "only the new trials are launched"
    after = {row.number: row.params["optim.lr"] for row in report.rows}
    assert len(after) == 8 and {n: after[n] for n in range(4)} == before
    assert not set(after[n] for n in range(4, 8)) & set(before.values()), "a continued sweep draws new points"
    third = Launcher()
    sweep(tmp_path, [LOG_LR], third, n_trials=8)
    assert third.numbers == [], "a finished sweep run again does nothing"


def test_comma_lists_are_a_grid_run_once_whatever_the_slots(tmp_path):
    # slots running at once, and no batch barrier between them: tests/test_sweep_workers.py
    launcher = Launcher(lambda overrides: Outcome("completed", lr_of(overrides)))
    report = sweep(tmp_path, ["optim.lr=0.1,0.01,0.001", "optim=adam,sgd"], launcher, n_jobs=4)
    pairs = sorted((row.params["optim.lr"], row.params["optim"]) for row in report.rows)
    assert pairs == sorted((lr, o) for lr in (0.1, 0.01, 0.001) for o in ("adam", "sgd"))
    assert sorted(launcher.numbers) == list(range(6)) and {slot for _, slot in launcher.calls} <= {0, 1, 2, 3}  # < n_jobs
    assert report.best.params["optim.lr"] == 0.001
    sweep(tmp_path, ["optim.lr=0.1,0.01,0.001", "optim=adam,sgd"], launcher, n_jobs=4)
    assert len(launcher.numbers) == 6, "every combination once, also when the command runs again"


@pytest.mark.parametrize("sampler", ["tpe", "qmc"])
def test_other_samplers_and_maximize(tmp_path, sampler):
    launcher = Launcher(lambda overrides: Outcome("completed", -bowl(overrides).value))
    report = sweep(tmp_path, [LOG_LR, "model.depth=range(1,4)"], launcher, objective="val/acc", n_trials=6,
                   sampler=sampler, n_jobs=2)
    assert len(report.rows) == 6 and sorted(launcher.numbers) == list(range(6))
    assert all(1e-5 <= row.params["optim.lr"] <= 1e-1 and row.params["model.depth"] in (1, 2, 3)
               for row in report.rows)
    assert report.best.value == max(row.value for row in report.rows), "val/acc is maximized"
    assert studies.load(tmp_path).direction == optuna.study.StudyDirection.MAXIMIZE


def test_failed_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    def score(overrides):
        lr = lr_of(overrides)
        return Outcome("failed", error="RuntimeError: boom") if lr > 1e-2 else bowl(overrides)

    report = sweep(tmp_path, ["optim.lr=0.1,0.05,0.01,0.001,0.0001"], Launcher(score), max_failure_rate=0.5)
    status = {row.params["optim.lr"]: (row.status, row.error) for row in report.rows}
    assert status[0.1] == status[0.05] == ("failed", "RuntimeError: boom")
    assert [status[lr][0] for lr in (0.01, 0.001, 0.0001)] == ["completed"] * 3
    with open(tmp_path / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["trial"], row["status"], row["error"]) for row in rows if row["status"] == "failed"] == [
        ("0", "failed", "RuntimeError: boom"), ("1", "failed", "RuntimeError: boom")]


def test_too_many_failures_stop_the_sweep_with_a_summary(tmp_path):
    launcher = Launcher(lambda overrides: Outcome("failed", error="RuntimeError: boom"))
    with pytest.raises(SweepAborted, match=r"2 of 6 planned trials failed with an error, more than "
                                           r"hydra.sweeper.max_failure_rate=0.2.*trial 1: RuntimeError: boom"):
        sweep(tmp_path, [LOG_LR], launcher, n_trials=6, max_failure_rate=0.2)
    assert launcher.numbers == [0, 1]
    assert (tmp_path / "summary.csv").read_text().count("failed") == 2


def _asked_by(sweep_dir, worker: str):
    """A trial asked and stamped by `worker`, as a worker of the sweep leaves it while it runs."""
    study = studies.load(sweep_dir)
    asked = study.ask(parse_space([LOG_LR]).distributions())
    asked.set_user_attr(WORKER_ATTR, worker)
    return asked


def test_a_dead_workers_trial_is_closed_and_its_point_retried_once(tmp_path):
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=2)
    killed = _asked_by(tmp_path, "gone-host-4242")  # its worker holds no owner file: dead
    launcher = Launcher()
    report = sweep(tmp_path, [LOG_LR], launcher, n_trials=3)
    assert launcher.numbers == [3], "the retry is the only trial left to run"
    rows = {row.number: row for row in report.rows}
    assert rows[2].status == "interrupted" and "gone-host-4242 stopped" in rows[2].error
    assert rows[3].status == "completed" and rows[3].params == killed.params, "the same point, interval and all"
    assert studies.load(tmp_path).trials[3].user_attrs[RETRY_ATTR] == 2
    retry_killed = _asked_by(tmp_path, "gone-host-4243")  # a retry whose worker died too: given up
    retry_killed.set_user_attr(RETRY_ATTR, 1)
    again = Launcher()
    report = sweep(tmp_path, [LOG_LR], again, n_trials=4)
    rows = {row.number: row for row in report.rows}
    assert again.numbers == [5] and rows[4].status == "interrupted"
    assert rows[5].params != retry_killed.params and RETRY_ATTR not in studies.load(tmp_path).trials[5].user_attrs


def test_a_live_workers_trial_is_left_alone_and_waited_for(tmp_path):
    """The other worker ends its trial 2 s after this one ran its last: this one stays until then
    (a worker leaves when n_trials have ended), and never touches it."""
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=2)
    holder = Heartbeat(tmp_path / WORKERS_DIR / "other-worker").take()  # another worker, alive
    try:
        live = _asked_by(tmp_path, "other-worker")
        ended_by_its_worker = threading.Timer(2.0, lambda: live.study.tell(live, 0.5))

        def launch_then_let_the_other_end(overrides):
            ended_by_its_worker.start()
            return bowl(overrides)

        launcher = Launcher(score=launch_then_let_the_other_end)
        report = sweep(tmp_path, [LOG_LR], launcher, n_trials=4)
    finally:
        ended_by_its_worker.join()
        holder.release()
    assert launcher.numbers == [3], "the live trial holds a place: 2 done + 1 running + 1 new = 4"
    rows = {row.number: row for row in report.rows}
    assert (rows[live.number].status, rows[live.number].value) == ("completed", 0.5), "told by its own worker"
    assert [row.status for row in report.rows] == ["completed"] * 4


def test_summary_plots_and_refine_from_the_study(tmp_path):
    sweep(tmp_path, [LOG_LR, "model.width=int(interval(8, 64))", "optim=adam,sgd"], Launcher(), n_trials=12)
    report = summarize(tmp_path, show=False)
    names = sorted(path.name for path in report.plots)
    assert names == ["best_so_far.png", "objective_vs_model.width.png", "objective_vs_optim.lr.png"]
    assert all(path.stat().st_size > 5000 for path in report.plots)
    assert axis_scale(optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True), [1e-3, 2e-3]) == "log"
    assert axis_scale(optuna.distributions.IntDistribution(8, 64), [8, 64]) == "linear"

    args = shlex.split(refine_command(studies.load(tmp_path)))
    assert args[:2] == ["dlrun", "-m"] and "hydra.sweeper.n_trials=12" in args
    refined = parse_space([arg for arg in args[2:] if not arg.startswith("hydra.")]).params
    top = [row for row in report.rows if row.status == "completed"][:3]  # the best quarter of 12
    for key in ("optim.lr", "model.width"):
        low, high = refined[key].distribution.low, refined[key].distribution.high
        values = [row.params[key] for row in top]
        assert low <= min(values) and max(values) <= high, "the best trials stay inside"
    lr = refined["optim.lr"].distribution
    assert lr.log and 1e-5 <= lr.low and lr.high <= 1e-1 and lr.high / lr.low < 1e4 / 10, "narrower, still log"
    assert refined["optim"].grid_values() == sorted({row.params["optim"] for row in top}, key=["adam", "sgd"].index)


def test_outcome_read_from_the_run_folder(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"status": "pruned", "error": "pruned by median",
                                                       "wall_time_s": 1.5}))
    assert outcome_from_run(tmp_path, exception=RuntimeError("x")) == Outcome("pruned", None, "pruned by median",
                                                                              str(tmp_path), 1.5)
    (tmp_path / "summary.json").write_text(json.dumps({"status": "failed", "error": "Traceback (most recent call "
                                                       "last):\n  File x\nValueError: bad\n", "wall_time_s": 2}))
    assert outcome_from_run(tmp_path, exception=RuntimeError("x")).error == "ValueError: bad"
    (tmp_path / "summary.json").write_text(json.dumps({"status": "completed", "objective": {"value": float("nan")}}))
    assert outcome_from_run(tmp_path).status == "failed"
    assert outcome_from_run(tmp_path / "missing", exception=MemoryError("oom")).error == "oom"


def test_a_trial_process_finds_its_trial(tmp_path, monkeypatch):
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=1, pruner="median")
    study = studies.load(tmp_path)
    asked = study.ask(parse_space([LOG_LR]).distributions())
    monkeypatch.setattr(os, "environ", {**os.environ, **studies.trial_env(tmp_path, asked.number)})
    trial, record = studies.trial_of_this_process()
    assert trial.number == asked.number and record["pruner"]["name"] == "median"
    trial.report(0.5, step=0)
    assert studies.load(tmp_path).trials[asked.number].intermediate_values == {0: 0.5}


def test_summary_and_refine_commands_reject_bad_input(tmp_path, capsys):
    from dlrun.cli.commands.sweep_folder import refine_main, summary_main

    assert summary_main([]) == 2 and "usage: dlrun summary SWEEP_DIR" in capsys.readouterr().err
    assert summary_main([str(tmp_path)]) == 2
    assert f"{tmp_path}: no study.journal (not a dlrun sweep folder" in capsys.readouterr().err
    sweep(tmp_path, [LOG_LR], Launcher(), n_trials=1)
    capsys.readouterr()
    assert refine_main([str(tmp_path)]) == 2
    assert "1 completed trial(s): refining needs at least 2" in capsys.readouterr().err
    assert refine_main([str(tmp_path), "top=0"]) == 2 and "top=0: expected an integer >= 1" in capsys.readouterr().err
    assert refine_main([str(tmp_path), "best=3"]) == 2 and "best=3: unknown argument" in capsys.readouterr().err
    assert summary_main([str(tmp_path)]) == 0
    assert f"sweep {tmp_path}: 1 trial (1 completed)" in capsys.readouterr().out
