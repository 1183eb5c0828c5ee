"""Multi-objective sweeps and conditional search spaces, end to end: the real `dlrun -m` in a
subprocess, dlrun's sweeper on a real Optuna journal study, a few steps of real training per
trial; the tests read summary.csv and each trial's summary.json."""

from __future__ import annotations

import shlex

import pytest

from conftest import read_json, run_cli
from dlrun.config.declarations import GROUPS
from dlrun.sweeps import study as studies
from dlrun.sweeps.space import parse_space
from test_sweep_cli import summary_rows, sweep_cli, trial_summaries

SHORT = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1"]


def non_dominated(points: dict) -> set:
    """{trial: (v1, v2)} (both minimized) -> the trials no other trial dominates."""
    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
    return {number for number, point in points.items()
            if not any(dominates(other, point) for key, other in points.items() if key != number)}


@pytest.mark.slow
def test_multi_objective_sweep_marks_the_pareto_front_and_reads_back(tmp_path):
    result, sweep_dir = sweep_cli(tmp_path, *SHORT, "objective=[val/loss,params]", "model.width=choice(8,32,64)",
                                  "optim.lr=tag(log, interval(1e-3, 1e-1))", "hydra.sweeper.n_trials=6")
    assert result.returncode == 0, result.output[-3000:]
    runs = trial_summaries(sweep_dir)
    assert sorted(runs) == list(range(6)) and all(run["status"] == "completed" for run in runs.values())
    for run in runs.values():  # the first objective is the run's; params is the model's parameter count
        assert run["objective"]["metric"] == "val/loss" and run["params"] > 0
        assert run["objectives"] == {"val/loss": run["objective"]["value"], "params": run["params"]}
    assert len({run["params"] for run in runs.values()}) >= 2, "widths differ, so do parameter counts"

    rows = summary_rows(sweep_dir)
    assert list(rows[0])[:5] == ["trial", "status", "val/loss", "params", "pareto"]
    points = {int(row["trial"]): (float(row["val/loss"]), float(row["params"])) for row in rows}
    assert points == {number: (run["objective"]["value"], run["params"]) for number, run in runs.items()}
    front = non_dominated(points)
    assert {int(row["trial"]) for row in rows if row["pareto"] == "true"} == front
    assert all(row["pareto"] in ("true", "false") for row in rows)
    losses = [float(row["val/loss"]) for row in rows]
    assert losses == sorted(losses), "sorted by the first objective"
    assert "trials " + ", ".join(map(str, sorted(front))) in result.stdout or (
        len(front) == 1 and f"trial {next(iter(front))};" in result.stdout), result.stdout[-2000:]
    assert (sweep_dir / "plots" / "pareto_front.png").stat().st_size > 5000

    study = studies.load(sweep_dir)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    assert study.metric_names == ["val/loss", "params"]

    summary = run_cli(["summary", str(sweep_dir)], cwd=tmp_path)
    assert summary.returncode == 0 and "pareto" in summary.stdout, summary.output[-2000:]
    refine = run_cli(["refine", str(sweep_dir)], cwd=tmp_path)
    assert refine.returncode == 0, refine.output
    assert refine.stdout.startswith("dlrun -m ") and "objective=[val/loss,params]" in refine.stdout
    assert "first objective (val/loss) only" in refine.stderr
    report = run_cli(["report", str(sweep_dir)], cwd=tmp_path)
    assert report.returncode == 0, report.output[-2000:]
    assert (sweep_dir / "report" / "report.md").is_file()


def _knob_takers(group: str, knob: str, options) -> set:
    return {option for option in options if knob in GROUPS[group].knobs_of(option)}


@pytest.mark.slow
def test_a_knob_is_searched_only_for_the_options_that_take_it(tmp_path):
    options = ("sgd", "momentum", "adam", "rmsprop")
    result, sweep_dir = sweep_cli(tmp_path, *SHORT, f"optim=choice({','.join(options)})",
                                  "optim.momentum=interval(0.5, 0.99)", "hydra.sweeper.n_trials=6")
    assert result.returncode == 0, result.output[-3000:]
    takers = _knob_takers("optim", "momentum", options)
    assert takers == {"momentum", "rmsprop"}
    runs = trial_summaries(sweep_dir)
    assert sorted(runs) == list(range(6)) and all(run["status"] == "completed" for run in runs.values())
    rows = {int(row["trial"]): row for row in summary_rows(sweep_dir)}
    used = {row["optim"] for row in rows.values()}
    assert used & takers and used - takers, f"both kinds of option were drawn: {used}"
    params = {frozen.number: frozen.params for frozen in studies.load(sweep_dir).get_trials()}
    for number, row in rows.items():
        optim = runs[number]["config"]["optim"]
        assert optim["name"] == row["optim"]
        if row["optim"] in takers:
            assert 0.5 <= float(row["optim.momentum"]) <= 0.99
            assert optim["momentum"] == pytest.approx(float(row["optim.momentum"]))
            assert "optim.momentum" in params[number]
        else:
            assert row["optim.momentum"] == "" and "optim.momentum" not in params[number]
            assert "momentum" not in optim, "the option got no momentum at all"

    refine = run_cli(["refine", str(sweep_dir)], cwd=tmp_path)  # keeps the knob only with an option that takes it
    assert refine.returncode == 0, refine.output
    checked = run_cli(["validate", *shlex.split(refine.stdout.strip())[1:]], cwd=tmp_path)
    assert checked.returncode == 0, f"{refine.stdout}\n{checked.output}"


def test_a_grid_runs_an_option_without_the_knob_once():
    space = parse_space(["optim=sgd,momentum,adam", "optim.momentum=0.5,0.9"])
    assert space.grid() == [{"optim": "sgd"}, {"optim": "momentum", "optim.momentum": 0.5},
                            {"optim": "momentum", "optim.momentum": 0.9}, {"optim": "adam"}]
    assert space.probe() == {"optim": "sgd"}
    # no condition where every searched option takes the knob, or where the group is not searched
    assert parse_space(["optim=momentum,rmsprop", "optim.momentum=0.5,0.9"]).conditions == {}
    assert parse_space(["optim.lr=0.1,0.2", "optim.momentum=0.5,0.9"]).conditions == {}


@pytest.mark.slow
def test_single_run_records_every_objective(tmp_path):
    import dlrun
    from conftest import TINY

    summary = dlrun.run([*TINY, *SHORT, "objective=[val/acc,wall_time,params]"], run_dir=tmp_path / "run")
    assert summary["status"] == "completed"
    stored = read_json(tmp_path / "run" / "summary.json")
    assert stored["objective"]["metric"] == "val/acc"
    assert stored["objectives"] == {"val/acc": stored["best"]["val/acc"], "wall_time": stored["wall_time_s"],
                                    "params": stored["params"]}
    assert stored["params"] > 0 and (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
