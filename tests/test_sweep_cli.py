"""`dlrun -m` sweeps end to end: the real CLI in a subprocess, dlrun's sweeper on a real
Optuna journal study in the sweep folder, a few steps of real training per trial."""

from __future__ import annotations

import csv
import math
import re
import shlex
from datetime import datetime
from pathlib import Path

import pytest

from conftest import TINY, read_json, run_cli
from dlrun.sweeps import study as studies

LOG_LR = "optim.lr=tag(log, interval(1e-5, 1e-1))"
# Tiny trials on a loaded 2-core machine run many times faster without intra-op threads
# fighting over the cores (conftest does the same for in-process training).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def sweep_cli(tmp_path, *args, name="sweep", env=None):
    """`dlrun -m TINY ARGS` into tmp_path/NAME; (result, sweep folder)."""
    sweep_dir = tmp_path / name
    result = run_cli(["-m", *TINY, *args, f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path,
                     env={**ONE_THREAD, **(env or {})})
    return result, sweep_dir


def summary_rows(sweep_dir: Path) -> list:
    with open(sweep_dir / "summary.csv") as handle:
        return list(csv.DictReader(handle))


def trial_summaries(sweep_dir: Path) -> dict:
    return {int(path.parent.name): read_json(path) for path in sweep_dir.glob("*/summary.json")}


@pytest.mark.slow
def test_log_space_sweep_summary_refine_and_best_command(tmp_path):
    # a list value among the fixed overrides: the printed command must keep its brackets
    result, sweep_dir = sweep_cli(tmp_path, LOG_LR, "hydra.sweeper.n_trials=12", "optim.betas=[0.9,0.99]")
    assert result.returncode == 0, result.output[-3000:]
    runs = trial_summaries(sweep_dir)
    lrs = [run["config"]["optim"]["lr"] for run in runs.values()]
    assert sorted(runs) == list(range(12)) and all(run["status"] == "completed" for run in runs.values())
    assert all(1e-5 <= lr <= 1e-1 for lr in lrs)
    assert len({math.floor(math.log10(lr)) for lr in lrs}) >= 3, f"lrs not spread over the decades: {sorted(lrs)}"

    rows = summary_rows(sweep_dir)
    values = [float(row["val/loss"]) for row in rows]
    assert values == sorted(values) and len(rows) == 12
    assert {int(row["trial"]): float(row["val/loss"]) for row in rows} == {
        number: run["objective"]["value"] for number, run in runs.items()}, "summary.csv holds each run's objective"
    plots = {path.name: path.stat().st_size for path in (sweep_dir / "plots").iterdir()}
    assert set(plots) == {"objective_vs_optim.lr.png", "best_so_far.png"} and min(plots.values()) > 5000
    assert f"sweep {sweep_dir}: 12 trials (12 completed)" in result.stdout

    summary = run_cli(["summary", str(sweep_dir)], cwd=tmp_path)
    assert summary.returncode == 0, summary.output
    best = rows[0]
    command = re.search(r"reproduce it with:\s*\n\s*(dlrun .*)\n", summary.stdout).group(1)
    assert command == shlex.join(["dlrun", *TINY, "optim.betas=[0.9,0.99]", f"optim.lr={float(best['optim.lr'])!r}"])
    single = run_cli([*shlex.split(command)[1:], f"hydra.run.dir={tmp_path / 'best'}"], cwd=tmp_path, env=ONE_THREAD)
    assert single.returncode == 0, single.output[-3000:]
    assert read_json(tmp_path / "best" / "summary.json")["objective"]["value"] == pytest.approx(
        float(best["val/loss"]), rel=1e-6), "the printed command reproduces the best trial"

    refine = run_cli(["refine", str(sweep_dir)], cwd=tmp_path)
    assert refine.returncode == 0, refine.output
    low, high = map(float, re.search(r"'optim\.lr=tag\(log, interval\(([^,]+), ([^)]+)\)\)'", refine.stdout).groups())
    top = sorted(float(row["optim.lr"]) for row in rows[:3])
    assert 1e-5 <= low <= top[0] and top[-1] <= high <= 1e-1 and high / low < 1e3
    assert refine.stdout.startswith("dlrun -m ") and "hydra.sweeper.n_trials=12" in refine.stdout


@pytest.mark.slow
def test_comma_lists_run_every_combination_once_and_acc_is_maximized(tmp_path):
    result, sweep_dir = sweep_cli(tmp_path, "optim.lr=0.01,0.001", "model.width=8,16", "objective=val/acc")
    assert result.returncode == 0, result.output[-3000:]
    runs = trial_summaries(sweep_dir)
    combos = sorted((run["config"]["optim"]["lr"], run["config"]["model"]["width"]) for run in runs.values())
    assert combos == [(0.001, 8), (0.001, 16), (0.01, 8), (0.01, 16)]
    assert studies.load(sweep_dir).direction.name == "MAXIMIZE"
    accs = [float(row["val/acc"]) for row in summary_rows(sweep_dir)]
    assert accs == sorted(accs, reverse=True) and accs[0] == max(run["objective"]["value"] for run in runs.values())


@pytest.mark.slow
def test_failing_trials_are_marked_and_the_others_complete(tmp_path):
    result, sweep_dir = sweep_cli(tmp_path, "+model._target_=helpers_models.ExplodingNet",
                                  "+model.fail_at_step=3,1000,2000", "hydra.sweeper.max_failure_rate=0.5")
    assert result.returncode == 0, result.output[-3000:]
    rows = {row["+model.fail_at_step"]: row for row in summary_rows(sweep_dir)}
    assert rows["3"]["status"] == "failed"
    assert rows["3"]["error"] == "RuntimeError: ExplodingNet: deliberate failure at forward call 4"
    assert rows["1000"]["status"] == rows["2000"]["status"] == "completed"
    assert float(rows["1000"]["val/loss"]) > 0
    # the sweep stopping once too many trials fail: tests/test_sweep_study.py


@pytest.mark.slow
def test_the_same_command_with_more_trials_continues_the_sweep(tmp_path):
    first, sweep_dir = sweep_cli(tmp_path, LOG_LR, "hydra.sweeper.n_trials=4")
    assert first.returncode == 0, first.output[-3000:]
    before = {number: (run["config"]["optim"]["lr"], Path(run["run_dir"]).stat().st_mtime_ns)
              for number, run in trial_summaries(sweep_dir).items()}
    second, _ = sweep_cli(tmp_path, LOG_LR, "hydra.sweeper.n_trials=8")
    assert second.returncode == 0, second.output[-3000:]
    assert "8 trials, 4 done before" in second.output
    after = trial_summaries(sweep_dir)
    assert sorted(after) == list(range(8)) and len(studies.load(sweep_dir).trials) == 8
    assert {n: (after[n]["config"]["optim"]["lr"], Path(after[n]["run_dir"]).stat().st_mtime_ns)
            for n in range(4)} == before, "the first 4 trials are not re-run"
    assert len({after[n]["config"]["optim"]["lr"] for n in range(8)}) == 8
    assert not re.search(r"trial [0-3] completed", second.output)


@pytest.mark.slow
@pytest.mark.parametrize("pruner", ["median", "successive_halving"])
def test_hopeless_trials_are_pruned_before_their_last_epoch(tmp_path, pruner):
    epochs = 3
    result, sweep_dir = sweep_cli(tmp_path, f"trainer.max_epochs={epochs}", "optim.lr=0.01,0.005,1e-7",
                                  f"hydra.sweeper.pruner={pruner}", "hydra.sweeper.pruners.median.n_startup_trials=2")
    assert result.returncode == 0, result.output[-3000:]
    runs = trial_summaries(sweep_dir)
    hopeless = runs[2]
    assert hopeless["status"] == "pruned" and f"pruned by the sweep's {pruner} pruner" in hopeless["error"]
    assert hopeless["epochs"] < epochs - 1 and hopeless["global_step"] < epochs * 5, "stopped before its last epoch"
    assert runs[0]["status"] == "completed" and runs[0]["epochs"] == epochs
    trials = studies.load(sweep_dir).trials
    assert trials[2].state.name == "PRUNED"
    reported = trials[0].intermediate_values
    assert sorted(reported) == list(range(epochs)), "val/loss reported to the study after every epoch"
    assert reported[epochs - 1] == pytest.approx(runs[0]["final"]["val/loss"])
    assert {row["trial"]: row["status"] for row in summary_rows(sweep_dir)}["2"] == "pruned"
    # the pruned trial's line shows the value it reached, as its summary holds it
    line = next(line for line in result.output.splitlines() if "trial 2 pruned" in line)
    assert f"val/loss={hopeless['objective']['value']:.6g}" in line


def _job_interval(run_dir: Path):
    """(pid, start, end) of a trial: its run.log's first line, its summary.json's write."""
    line = (run_dir / "run.log").read_text().splitlines()[0]
    stamp, pid = re.match(r"\[([\d-]+ [\d:,]+)\].*sweep job \d+ starting in process (\d+)", line).groups()
    start = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return int(pid), start, (run_dir / "summary.json").stat().st_mtime


@pytest.mark.slow
def test_joblib_runs_two_trials_at_once_in_two_processes(tmp_path):
    result, sweep_dir = sweep_cli(tmp_path, "launcher=joblib", "optim.lr=0.01,0.001")
    assert result.returncode == 0, result.output[-3000:]
    assert "2 at a time" in result.output
    (pid_a, start_a, end_a), (pid_b, start_b, end_b) = (_job_interval(sweep_dir / str(n)) for n in range(2))
    assert pid_a != pid_b and start_a < end_b and start_b < end_a, "the two trials did not run at the same time"
    assert all(run["status"] == "completed" for run in trial_summaries(sweep_dir).values())


def test_bad_sweeps_stop_before_any_trial_with_exit_2(tmp_path):
    typo, typo_dir = sweep_cli(tmp_path, "optim.lrr=tag(log, interval(1e-5, 1e-1))", "hydra.sweeper.n_trials=3")
    assert typo.returncode == 2
    assert "optim.lrr=0.001: unknown key; keys of optim:" in typo.stderr and "did you mean 'lr'?" in typo.stderr
    no_count, _ = sweep_cli(tmp_path, LOG_LR, "hydra.sweeper.sampler=bayes")
    assert no_count.returncode == 2 and "hydra.sweeper.sampler='bayes': expected one of: sobol, random, tpe, qmc, grid" \
        in no_count.stderr
    assert not typo_dir.exists()


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["tpe", "qmc"])
def test_seeded_samplers_draw_the_trials(tmp_path, sampler):
    from optuna import create_study
    from optuna.distributions import FloatDistribution

    from dlrun.sweeps.samplers import build_sampler
    from test_sweep_space import DEFAULTS

    result, sweep_dir = sweep_cli(tmp_path, LOG_LR, "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
                                  f"hydra.sweeper.sampler={sampler}", "hydra.sweeper.seed=7")
    assert result.returncode == 0, result.output[-3000:]
    assert f"sampler {sampler}" in result.output and "1 at a time" in result.output
    assert "hydra.sweeper.n_jobs=2: the basic launcher runs one trial at a time in this process" in result.output
    runs = trial_summaries(sweep_dir)
    # the same seeded sampler asked twice (each trial number draws its own point, results or not)
    replica = create_study(sampler=build_sampler(sampler, DEFAULTS["samplers"].get(sampler), 7))
    expected = [replica.ask({"optim.lr": FloatDistribution(1e-5, 1e-1, log=True)}).params["optim.lr"]
                for _ in range(2)]
    assert [runs[n]["config"]["optim"]["lr"] for n in range(2)] == expected


@pytest.mark.slow
def test_a_signal_stops_the_whole_sweep_not_just_its_trial(tmp_path):
    import signal
    import time

    from conftest import start_cli

    sweep_dir = tmp_path / "stopped"
    long_trials = ["-m", "optim.lr=0.01,0.02,0.03", "trainer.max_epochs=1000", "trainer.progress_bar=false",
                   f"hydra.sweep.dir={sweep_dir}"]
    process = start_cli(long_trials, tmp_path, env=ONE_THREAD)
    started = time.monotonic()
    while not (sweep_dir / "0" / "checkpoints" / "last.ckpt").is_file() and process.poll() is None:
        assert time.monotonic() - started < 120, "the first trial did not start training"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0, output[-3000:]
    assert read_json(sweep_dir / "0" / "summary.json")["status"] == "interrupted"
    assert not (sweep_dir / "1").exists(), "the sweep went on to the next trial after the signal"
    assert "run the same command again to continue the sweep" in output and "Traceback" not in output
    rows = {row["trial"]: (row["status"], row["optim.lr"], row["error"]) for row in summary_rows(sweep_dir)}
    assert rows == {"0": ("interrupted", "0.01", "the sweep was stopped"), "1": ("waiting", "0.01", "retry of trial 0")}, \
        "the interrupted point is queued again for the next run of the command"


@pytest.mark.parametrize("setting, message", [
    ("hydra.sweeper.sampler=bayes", "hydra.sweeper.sampler='bayes': expected one of: sobol, random, tpe, qmc, grid"),
    ("hydra.sweeper.direction=upward",
     "hydra.sweeper.direction='upward': expected null, minimize, maximize or a list of them"),
    ("hydra.sweeper.sampler=grid", "is an interval, which a grid cannot enumerate"),
    ("hydra.sweeper.n_trials=null", "is an interval, so the sweep needs a trial count"),
])
def test_validate_m_refuses_what_a_sweep_refuses_in_the_same_words(tmp_path, setting, message):
    args = [LOG_LR, "hydra.sweeper.n_trials=2", setting, f"hydra.sweep.dir={tmp_path / 'never'}"]
    checked = run_cli(["validate", "-m", *args], cwd=tmp_path)
    swept = run_cli(["-m", *TINY, *args], cwd=tmp_path)
    for result in (checked, swept):
        assert result.returncode == 2 and message in result.stderr, result.output[-2000:]
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "never").exists()


def test_a_swept_null_is_checked_as_the_trial_reads_it(tmp_path):
    """`optim.clip.norm=null,1.0`: the precheck sets the point's values without composing, as
    Hydra parses them in the trial (null is None, not the text 'null'); a bad value still fails."""
    fine = run_cli(["validate", "-m", "optim=sgd", "optim.clip.norm=null,1.0"], cwd=tmp_path)
    assert fine.returncode == 0 and fine.stdout.startswith("ok: "), fine.output[-2000:]
    bad = run_cli(["validate", "-m", "optim=sgd", "optim.clip.norm=null,-1.0"], cwd=tmp_path)
    assert bad.returncode == 2 and "optim.clip.norm=-1.0" in bad.stderr, bad.output[-2000:]
