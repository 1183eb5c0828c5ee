"""Populations (dlrun.population): each member trains exactly as its trial would alone."""

from __future__ import annotations

import math

import pytest

from conftest import TINY, read_json, run_cli
from dlrun.config.compose import compose
from dlrun.training.metrics_file import read_metric_rows
from dlrun.population.members import PopulationPlots
from dlrun.report.curves import plot_curves
from dlrun.report.figures import plot_population

PLOTS = PopulationPlots(overlay=plot_population, member=plot_curves)
SMALL = [*TINY, "hardware.threads=1", "hardware.precision=64-true", "model.width=16"]


def _config(overrides):
    from dlrun.config.validate import validated

    return validated(compose([*SMALL, *overrides]))


def _runs(configs, folders) -> list:
    """Population members as prepared runs, started as a sweep's members are (their record.json)."""
    import os

    from dlrun.training.record import ConfigSources, Invocation
    from dlrun.training.session import Run

    return [Run(cfg, folder, Invocation("population member", ConfigSources(os.getcwd())))
            for cfg, folder in zip(configs, folders)]


def _numbers(row: dict) -> dict:
    return {key: float(value) for key, value in row.items() if value not in ("", None)}


def _assert_same_rows(alone: list, member: list, where: str) -> None:
    assert len(alone) == len(member) and alone, f"{where}: {len(alone)} rows alone, {len(member)} in the population"
    for single, pooled in zip(alone, member):
        single, pooled = _numbers(single), _numbers(pooled)
        assert single.keys() == pooled.keys(), f"{where}: columns {sorted(single)} vs {sorted(pooled)}"
        for key in single:
            assert math.isclose(single[key], pooled[key], rel_tol=1e-9, abs_tol=1e-12), \
                f"{where} step {single.get('step')}: {key} alone {single[key]!r}, in the population {pooled[key]!r}"


MEMBERS = {
    "sgd": [["optim=sgd", "optim.lr=0.05"], ["optim=sgd", "optim.lr=0.2", "optim.weight_decay=0.01"]],
    # clipped by each member's own gradient norm, as its single run clips
    "sgd_clipped": [["optim=sgd", "optim.lr=0.5", "optim.clip.norm=0.05"],
                    ["optim=sgd", "optim.lr=1.0", "optim.clip.norm=0.05", "init=normal", "init.std=0.3"]],
    "momentum": [["optim=momentum", "optim.lr=0.01", "optim.momentum=0.5"],
                 ["optim=momentum", "optim.lr=0.05", "optim.weight_decay=0.001"]],
    "adam": [["optim=adam", "optim.lr=0.001"], ["optim=adam", "optim.lr=0.01", "optim.weight_decay=0.01",
                                                "optim.betas=[0.8,0.99]", "loss.label_smoothing=0.1",
                                                "schedule=cosine"]],
    "batchnorm": [["optim=momentum", "model.norm=batch", "optim.lr=0.01"],
                  ["optim=momentum", "model.norm=batch", "optim.lr=0.1", "optim.weight_decay=0.01"]],
}


@pytest.mark.parametrize("optimizer", sorted(MEMBERS))
def test_each_member_matches_its_trial_run_alone(optimizer, tmp_path):
    from dlrun.population.run import train_population
    from dlrun.training.runner import execute

    configs = [_config(overrides) for overrides in MEMBERS[optimizer]]
    for index, cfg in enumerate(configs):
        execute(cfg, tmp_path / f"alone{index}")
    folders = [tmp_path / f"member{index}" for index in range(len(configs))]
    summaries = train_population(_runs(configs, folders), tmp_path / "population", plots=PLOTS)
    assert [summary["status"] for summary in summaries] == ["completed"] * len(configs)
    for index, folder in enumerate(folders):
        _assert_same_rows(read_metric_rows(tmp_path / f"alone{index}" / "metrics.csv"),
                          read_metric_rows(folder / "metrics.csv"), f"{optimizer} member {index}")


@pytest.mark.slow
def test_population_sweep_gives_every_trial_its_own_run_and_study_record(tmp_path):
    from test_sweep_cli import sweep_cli, trial_summaries

    result, sweep_dir = sweep_cli(tmp_path, "launcher=population", "hydra.sweeper.n_trials=6", "hydra.launcher.size=4",
                                  "optim.lr=tag(log, interval(1e-4, 1e-1))")
    assert result.returncode == 0, result.output[-3000:]
    assert "population of 4: trials 0, 1, 2, 3" in result.output and "population of 2: trials 4, 5" in result.output
    runs = trial_summaries(sweep_dir)
    assert sorted(runs) == list(range(6)) and {run["status"] for run in runs.values()} == {"completed"}
    for number, run in runs.items():
        folder = sweep_dir / str(number)
        assert (folder / ".hydra" / "config.yaml").is_file()
        assert len(read_metric_rows(folder / "metrics.csv")) >= 4 and run["best_checkpoint"]
    _assert_one_figure_per_population(sweep_dir, runs, tmp_path)
    assert len({run["config"]["optim"]["lr"] for run in runs.values()}) == 6
    trials = _study_trials(sweep_dir)
    assert {trial.number: trial.value for trial in trials} == {
        number: run["objective"]["value"] for number, run in runs.items()}, "each member told to the study alone"

    evaluated = run_cli(["eval", str(sweep_dir / "3")], cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.output[-2000:]
    metrics = read_json(next((sweep_dir / "3").glob("eval_best_*.json")))["metrics"]
    assert math.isclose(metrics["test/loss"], runs[3]["test"]["test/loss"], rel_tol=1e-5)


def _assert_one_figure_per_population(sweep_dir, runs: dict, cwd) -> None:
    """An overlaid figure per population; of the members' own figures only the best's (per
    population), another drawn when asked by `dlrun summary TRIAL_DIR`."""
    assert sorted(path.parent.name for path in (sweep_dir / "populations").glob("*/curves.png")) == ["0", "4"]
    drawn = sorted(number for number in runs if (sweep_dir / str(number) / "plots" / "curves.png").is_file())
    best_of = [min(part, key=lambda number: runs[number]["objective"]["value"]) for part in ([0, 1, 2, 3], [4, 5])]
    assert drawn == best_of, f"own figures {drawn}, expected the best members' {best_of}"
    other = next(number for number in runs if number not in drawn)
    asked = run_cli(["summary", str(sweep_dir / str(other))], cwd=cwd)
    assert asked.returncode == 0 and (sweep_dir / str(other) / "plots" / "curves.png").is_file(), asked.output[-2000:]
    assert f"curves: {sweep_dir / str(other) / 'plots' / 'curves.png'}" in asked.output


def _study_trials(sweep_dir):
    from dlrun.sweeps import study as studies

    return [trial for trial in studies.load(sweep_dir).trials if trial.state.name == "COMPLETE"]


def test_a_diverging_member_is_masked_and_the_others_train_on(tmp_path):
    import torch

    from dlrun.population.run import train_population
    from dlrun.training.runner import execute

    configs = [_config(["optim=sgd", f"optim.lr={lr}"]) for lr in (0.05, 1e3, 0.1)]
    execute(configs[2], tmp_path / "alone")
    folders = [tmp_path / f"member{index}" for index in range(3)]
    summaries = train_population(_runs(configs, folders), tmp_path / "population", plots=PLOTS)
    assert [summary["status"] for summary in summaries] == ["completed", "diverged", "completed"]
    assert summaries[1]["error"].startswith("diverged at step") and "member masked" in summaries[1]["error"]
    _assert_same_rows(read_metric_rows(tmp_path / "alone" / "metrics.csv"), read_metric_rows(folders[2] / "metrics.csv"),
                      "the member after the diverged one")
    last = torch.load(folders[1] / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(tensor).all() for tensor in last.values()), "the diverged member keeps its last good weights"


@pytest.mark.slow
def test_a_diverged_member_is_told_to_the_study_as_diverged(tmp_path):
    from test_sweep_cli import sweep_cli, trial_summaries

    result, sweep_dir = sweep_cli(tmp_path, "launcher=population", "optim=sgd", "optim.lr=0.05,1000")
    assert result.returncode == 0, result.output[-3000:]
    by_lr = {run["config"]["optim"]["lr"]: run for run in trial_summaries(sweep_dir).values()}
    assert by_lr[0.05]["status"] == "completed" and by_lr[1000]["status"] == "diverged"
    from dlrun.sweeps import study as studies

    statuses = {trial.params["optim.lr"]: trial.user_attrs["status"] for trial in studies.load(sweep_dir).trials}
    assert statuses == {0.05: "completed", 1000: "diverged"}


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_the_vectorised_forward_equals_each_members_own(norm):
    import copy

    import torch

    from dlrun.data.spec import DataSpec
    from dlrun.models.zoo import build_model
    from dlrun.population.stacked import StackedMembers

    spec = DataSpec(modality="image", task="classification", input_shape=(1, 8, 8), num_classes=10)
    networks = [build_model({"name": "mlp", "width": 16, "depth": 2, "activation": "relu", "norm": norm,
                             "dropout": 0.0}, spec).double() for _ in range(3)]
    twins = copy.deepcopy(networks)  # BatchNorm statistics: each member's own, updated once per forward
    stacked, inputs = StackedMembers(networks), torch.randn(5, 1, 8, 8, dtype=torch.float64)
    vectorised = stacked.vectorised(inputs)
    looped = torch.stack([twin(inputs) for twin in twins])
    for member, twin in zip(networks, twins):
        for (name, own), (_, expected) in zip(member.named_buffers(), twin.named_buffers()):
            assert torch.allclose(own, expected, rtol=1e-12), f"buffer {name}"
    assert vectorised.shape == (3, 5, 10) and torch.allclose(vectorised, looped, rtol=1e-12, atol=1e-12)
    vectorised.square().sum().backward()
    first = [parameter.grad.clone() for parameter in stacked.member_parameters(1)]
    stacked.zero_grad()
    stacked(inputs).square().sum().backward()
    assert all(torch.allclose(a, b.grad, rtol=1e-10) for a, b in zip(first, stacked.member_parameters(1)))


def test_trials_group_by_all_but_member_knobs_and_say_why_one_runs_alone():
    from omegaconf import OmegaConf

    from dlrun.population.knobs import differing_keys, group_members, why_alone

    def plain(*overrides):
        return OmegaConf.to_container(_config(list(overrides)), resolve=True)

    configs = {0: plain("optim.lr=0.1"), 1: plain("optim.lr=0.01", "init=normal", "model.dropout=0.1"),
               2: plain("model.width=8"), 3: plain("optim.lr=0.5", "model.width=8", "schedule=cosine")}
    assert group_members(configs) == [[0, 1], [2, 3]]
    assert differing_keys([configs[0], configs[2]]) == ["model.width"]
    assert why_alone(configs[0]) is None
    assert why_alone(plain("callbacks.early_stopping.enabled=true")) == "early stopping"
    assert why_alone(plain("model.norm=batch")) is None


@pytest.mark.slow
def test_trials_that_differ_in_architecture_train_as_separate_populations(tmp_path):
    from test_sweep_cli import sweep_cli, trial_summaries

    result, sweep_dir = sweep_cli(tmp_path, "launcher=population", "model.width=8,16", "optim.lr=0.01,0.001",
                                  "hardware.threads=1")
    assert result.returncode == 0, result.output[-3000:]
    assert "2 populations, not one: their trials differ in model.width" in result.output
    assert result.output.count("population of 2: trials") == 2
    runs = trial_summaries(sweep_dir)
    assert sorted(runs) == [0, 1, 2, 3] and {run["status"] for run in runs.values()} == {"completed"}


@pytest.mark.slow
def test_a_signal_stops_a_population_sweep_and_marks_its_members_interrupted(tmp_path):
    import signal
    import time

    from conftest import start_cli
    from test_sweep_cli import ONE_THREAD, summary_rows

    sweep_dir = tmp_path / "stopped"
    long_trials = ["-m", "launcher=population", "hydra.launcher.size=2", "optim.lr=0.01,0.02,0.03",
                   "trainer.max_epochs=1000", "trainer.progress_bar=false", f"hydra.sweep.dir={sweep_dir}"]
    process = start_cli(long_trials, tmp_path, env=ONE_THREAD)
    started = time.monotonic()
    while not (sweep_dir / "1" / "summary.json").is_file() and process.poll() is None:
        assert time.monotonic() - started < 120, "the population did not start training"
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0, output[-3000:]
    assert [read_json(sweep_dir / str(n) / "summary.json")["status"] for n in (0, 1)] == ["interrupted"] * 2
    assert not (sweep_dir / "2").exists(), "the sweep went on to the next trial after the signal"
    assert "run the same command again to continue the sweep" in output and "Traceback" not in output
    rows = {row["trial"]: row["status"] for row in summary_rows(sweep_dir)}
    assert rows == {"0": "interrupted", "1": "interrupted", "2": "waiting", "3": "waiting"}, rows


@pytest.mark.slow
def test_hopeless_members_are_pruned_and_the_others_train_on(tmp_path):
    from dlrun.sweeps import study as studies
    from test_sweep_cli import sweep_cli, trial_summaries

    epochs = 4
    result, sweep_dir = sweep_cli(tmp_path, "launcher=population", "hydra.launcher.size=3", f"trainer.max_epochs={epochs}",
                                  "optim.lr=0.01,0.005,1e-7,2e-7,0.008", "hydra.sweeper.pruner=median",
                                  "hydra.sweeper.pruners.median.n_startup_trials=2")
    assert result.returncode == 0, result.output[-3000:]
    runs = trial_summaries(sweep_dir)
    # the first population (lr 0.01, 0.005, 1e-7) has no finished trial to compare with: none is pruned
    assert [runs[n]["status"] for n in range(5)] == ["completed", "completed", "completed", "pruned", "completed"]
    hopeless = runs[3]
    assert "pruned by the sweep's median pruner" in hopeless["error"] and hopeless["epochs"] < epochs - 1
    trials = studies.load(sweep_dir).trials
    assert [trial.state.name for trial in trials] == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]
    assert sorted(trials[0].intermediate_values) == list(range(epochs)), "every round reported by each member"


def test_a_bad_population_size_stops_before_anything_with_exit_2(tmp_path):
    result = run_cli(["-m", "launcher=population", "hydra.launcher.size=0", "optim.lr=0.1,0.2",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    assert result.returncode == 2 and "hydra.launcher.size=0: expected an integer >= 1" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_a_trial_a_population_cannot_hold_runs_alone_and_says_why(tmp_path):
    from test_sweep_cli import sweep_cli, trial_summaries

    result, sweep_dir = sweep_cli(tmp_path, "launcher=population", "optim.lr=0.01,0.001",
                                  "callbacks.early_stopping.enabled=true", "hardware.threads=1")
    assert result.returncode == 0, result.output[-3000:]
    assert result.output.count("runs alone, not in a population: early stopping") == 2
    assert "population of" not in result.output
    runs = trial_summaries(sweep_dir)
    assert sorted(runs) == [0, 1] and {run["status"] for run in runs.values()} == {"completed"}


def test_a_population_that_fails_writes_every_members_summary(tmp_path, monkeypatch):
    from dlrun.population import module
    from dlrun.population.run import train_population

    def broken(self, batch, batch_idx):
        raise RuntimeError("broken step")

    monkeypatch.setattr(module.PopulationModule, "training_step", broken)
    configs = [_config([f"optim.lr={lr}"]) for lr in (0.1, 0.2)]
    summaries = train_population(_runs(configs, [tmp_path / "a", tmp_path / "b"]), tmp_path / "population")
    assert [summary["status"] for summary in summaries] == ["failed", "failed"]
    assert summaries[0]["error"] == "RuntimeError: broken step"
    assert "broken step" in (tmp_path / "b" / "run.log").read_text() and "Traceback" in summaries[1]["traceback"]


@pytest.mark.slow
def test_every_member_gets_its_own_offline_wandb_run_in_the_sweeps_group(tmp_path):
    from test_sweep_cli import ONE_THREAD
    from test_wandb import offline_run

    sweep_dir = tmp_path / "lr_sweep"
    result = run_cli(["-m", *TINY, "launcher=population", "logger=csv_wandb", "optim.lr=0.01,0.003",
                      f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env={**ONE_THREAD, "WANDB_MODE": "offline"})
    assert result.returncode == 0, result.output[-3000:]
    assert "population of 2: trials 0, 1" in result.output
    runs = {}
    for number in range(2):
        summary = read_json(sweep_dir / str(number) / "summary.json")
        (folder,) = (sweep_dir / str(number) / "wandb").glob("offline-run-*")
        runs[number] = offline_run(folder)
        assert summary["wandb"]["dir"] == str(folder) and runs[number]["id"] == summary["wandb"]["id"]
        assert runs[number]["config"]["optim"]["lr"] == summary["config"]["optim"]["lr"]
        assert runs[number]["summary"]["best_objective/val/loss"] == pytest.approx(summary["objective"]["value"])
    assert [run["name"] for run in runs.values()] == ["mlp_digits-0", "mlp_digits-1"]
    assert {run["group"] for run in runs.values()} == {"lr_sweep"} and runs[0]["id"] != runs[1]["id"]
