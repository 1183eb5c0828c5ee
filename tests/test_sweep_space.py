"""The sweeper's pieces without a sweep: Hydra's search-space grammar -> Optuna
distributions, the settings check (each bad key named with its value and what is
allowed), grid-or-sample planning, the direction read from the objective, samplers."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from dlrun.sweeps.samplers import SeededPerTrial, build_pruner, build_sampler
from dlrun.sweeps.settings import SweepSettingsError, launcher_parallelism, make_plan, read_settings
from dlrun.sweeps.space import SearchSpaceError, parse_space



def sweeper_defaults() -> dict:
    """hydra.sweeper as conf/hydra/sweeper/dlrun.yaml sets it (the real defaults)."""
    from omegaconf import OmegaConf

    from dlrun.base.paths import config_dir

    raw = OmegaConf.to_container(OmegaConf.load(Path(config_dir()) / "hydra" / "sweeper" / "dlrun.yaml"))
    raw.pop("_target_")
    return raw


DEFAULTS = sweeper_defaults()


def settings(**changes):
    return read_settings({**DEFAULTS, **changes}, "val/loss", {})


def test_override_grammar_becomes_optuna_distributions():
    space = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))", "model.width=int(interval(16, 256))",
                         "model.depth=range(1, 5)", "optim=adam,sgd", "model.norm=choice(batch, layer)",
                         "data.batch_size=32", "model.dropout=interval(0, 0.5)"])
    assert space.params["optim.lr"].distribution == FloatDistribution(1e-5, 1e-1, log=True)
    assert space.params["model.width"].distribution == IntDistribution(16, 256)
    assert space.params["model.depth"].distribution == IntDistribution(1, 4)  # range's end is exclusive
    assert space.params["optim"].distribution == CategoricalDistribution(["adam", "sgd"])
    assert space.params["model.norm"].distribution == CategoricalDistribution(["batch", "layer"])
    assert space.params["model.dropout"].distribution == FloatDistribution(0.0, 0.5)
    assert space.fixed == ("data.batch_size=32",)
    assert [key for key, p in space.params.items() if p.discrete] == ["model.depth", "optim", "model.norm"]
    assert not space.is_discrete()


def test_grid_is_every_combination_in_hydras_order_and_overrides_read_back():
    space = parse_space(["optim=adam,sgd", "model.depth=range(1,3)", "seed=3"])
    assert space.grid() == [{"optim": "adam", "model.depth": 1}, {"optim": "adam", "model.depth": 2},
                            {"optim": "sgd", "model.depth": 1}, {"optim": "sgd", "model.depth": 2}]
    lr = 0.00012345678901234567
    overrides = parse_space(["optim.lr=interval(1e-5, 1e-3)"]).overrides({"optim.lr": lr})
    assert overrides == [f"optim.lr={lr!r}"]
    assert float(overrides[0].split("=")[1]) == lr  # exact: the reproduce command trains the same lr


def test_command_line_wins_over_a_preset_for_the_same_key():
    space = parse_space(["optim.lr=interval(0.01, 0.1)"],
                        {"optim.lr": "tag(log, interval(1e-5, 1e-1))", "optim.weight_decay": "0,0.01"})
    assert space.params["optim.lr"].distribution == FloatDistribution(0.01, 0.1)
    assert space.params["optim.weight_decay"].distribution == CategoricalDistribution([0, 0.01])


@pytest.mark.parametrize("override, message", [
    ("optim.lr=tag(log, interval(0, 1))", "a log interval needs a start > 0"),
    ("optim.lr=interval(1, 0.1)", "interval start must be below its end"),
    ("optim.lr=tag(grid, interval(0.1, 1))", "unknown tag 'grid'"),
    ("optim=glob(ada*)", "glob() needs the config tree"),
    ("optim.lr=interval(1e-5", "optim.lr=interval(1e-5"),
])
def test_bad_search_space_is_named(override, message):
    with pytest.raises(SearchSpaceError) as error:
        parse_space([override])
    assert message in str(error.value)


def test_representative_point_is_inside_each_distribution():
    space = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))", "model.width=int(interval(16, 256))",
                         "optim=sgd,adam"])
    probe = space.probe()
    assert probe["optim.lr"] == pytest.approx(1e-3)  # geometric middle of a log interval
    assert probe["model.width"] == 136 and probe["optim"] == "sgd"


def test_settings_errors_name_key_value_and_what_is_allowed():
    with pytest.raises(SweepSettingsError) as error:
        read_settings({**DEFAULTS, "n_trials": 0, "sampler": "bayes", "max_failure_rate": 2, "pruner": "hyperband",
                       "direction": "up"}, "val/loss", {})
    text = str(error.value)
    assert "hydra.sweeper.n_trials=0: expected null or an integer >= 1" in text
    assert "hydra.sweeper.sampler='bayes': expected one of: sobol, random, tpe, qmc, grid" in text
    assert "hydra.sweeper.max_failure_rate=2: expected a number in [0, 1]" in text
    assert "hydra.sweeper.pruner='hyperband': expected one of: none, median, successive_halving" in text
    assert "hydra.sweeper.direction='up'" in text


def test_direction_comes_from_the_objective_unless_set():
    assert read_settings(DEFAULTS, "val/loss", {}).direction == "minimize"
    assert read_settings(DEFAULTS, "val/acc", {}).direction == "maximize"
    assert read_settings({**DEFAULTS, "direction": "maximize"}, "val/loss", {}).direction == "maximize"


def test_trials_at_once_follow_the_launcher():
    assert launcher_parallelism({"n_jobs": 3}) == 3
    assert launcher_parallelism({"n_jobs": -1}) == (__import__("os").cpu_count() or 1)
    assert launcher_parallelism({"array_parallelism": 16}) == 16
    assert launcher_parallelism({}) == 1
    assert read_settings(DEFAULTS, "val/loss", {"n_jobs": 2}).n_jobs == 2
    assert read_settings({**DEFAULTS, "n_jobs": 4}, "val/loss", {"n_jobs": 2}).n_jobs == 4


def test_plan_grid_for_comma_lists_sampling_for_intervals():
    lists = parse_space(["optim=adam,sgd", "model.depth=1,2,3"])
    interval = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))"])
    assert make_plan(lists, settings()).grid  # Hydra's meaning: every combination once
    assert not make_plan(lists, settings(n_trials=4)).grid  # n_trials given: sampled from the lists
    assert make_plan(lists, settings(n_trials=4, sampler="grid")).grid
    assert make_plan(interval, settings(n_trials=12)).n_trials == 12
    with pytest.raises(SweepSettingsError, match=r"n_trials=null: optim.lr=tag\(log, interval\(1e-5, 1e-1\)\) is an "
                                                 r"interval, so the sweep needs a trial count"):
        make_plan(interval, settings())
    with pytest.raises(SweepSettingsError, match="sampler=grid: .* a grid cannot enumerate"):
        make_plan(interval, settings(n_trials=5, sampler="grid"))


@pytest.mark.parametrize("name, cls", [("random", optuna.samplers.RandomSampler), ("tpe", optuna.samplers.TPESampler),
                                       ("qmc", optuna.samplers.QMCSampler), ("grid", optuna.samplers.RandomSampler)])
def test_samplers_are_seeded_optuna_samplers(name, cls):
    space = {"lr": FloatDistribution(1e-5, 1e-1, log=True)}

    def draws(seed, earlier=0):
        study = optuna.create_study(sampler=build_sampler(name, {}, seed))
        for _ in range(earlier):  # trials already in the study (a continued sweep, or other workers')
            study.ask(space)
        return [study.ask(space).params["lr"] for _ in range(4)]

    sampler = build_sampler(name, {}, 0)
    assert isinstance(sampler.inner if isinstance(sampler, SeededPerTrial) else sampler, cls)
    first = draws(0)
    assert first == draws(0), "same seed, same search"
    assert all(1e-5 <= lr <= 1e-1 for lr in first)
    if name in ("random", "tpe"):
        assert first != draws(1)
        later = draws(0, earlier=4)
        assert not set(later) & set(first), "a continued sweep draws new points"
        # each trial number has its own draw, whichever worker's sampler asks for it
        other_worker = optuna.create_study(sampler=build_sampler(name, {}, 0))
        assert [other_worker.ask(space).params["lr"] for _ in range(8)][4:] == later


def test_pruners_and_sampler_knobs_reach_optuna():
    assert isinstance(build_pruner("median", {"n_startup_trials": 2}), optuna.pruners.MedianPruner)
    assert isinstance(build_pruner("successive_halving", {}), optuna.pruners.SuccessiveHalvingPruner)
    assert build_sampler("tpe", {"n_startup_trials": 7}, 0).inner._n_startup_trials == 7
    with pytest.raises(ValueError, match="hyperband"):
        build_pruner("hyperband", {})


def test_sampled_log_values_cover_the_decades():
    study = optuna.create_study(sampler=build_sampler("random", {}, 0))
    space = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))"]).distributions()
    decades = {math.floor(math.log10(study.ask(space).params["optim.lr"])) for _ in range(40)}
    assert decades == {-5, -4, -3, -2}


def test_sweep_and_launcher_presets_compose():
    from omegaconf import OmegaConf

    from dlrun.config.compose import compose

    hydra = compose(["sweep=lr_wd", "optim=adamw"], return_hydra_config=True).hydra
    assert hydra.sweeper._target_ == "hydra_plugins.dlrun_sweeper.sweeper.DlrunSweeper"
    assert (hydra.sweeper.n_trials, hydra.sweeper.pruner) == (30, "median")
    space = parse_space([], OmegaConf.to_container(hydra.sweeper.params))
    assert space.params["optim.weight_decay"].distribution == FloatDistribution(1e-6, 1e-1, log=True)
    joblib = compose(["launcher=joblib"], return_hydra_config=True).hydra
    assert joblib.launcher._target_.endswith("JoblibLauncher") and joblib.launcher.n_jobs == 2
    assert read_settings(OmegaConf.to_container(joblib.sweeper, resolve=True), "val/loss",
                         OmegaConf.to_container(joblib.launcher)).n_jobs == 2
    local = compose(["launcher=submitit_local"], return_hydra_config=True).hydra
    assert local.launcher._target_.endswith("LocalLauncher") and local.sweeper.n_jobs == 2
    slurm = compose(["launcher=submitit_slurm"], return_hydra_config=True).hydra
    assert slurm.launcher._target_.endswith("SlurmLauncher") and slurm.launcher.array_parallelism == 16


def _slices(values, low: float, high: float, count: int) -> list:
    """Which of `count` equal slices of log [low, high] each value falls in, sorted."""
    return sorted(int(count * (math.log(v) - math.log(low)) / (math.log(high) - math.log(low))) for v in values)


@pytest.mark.parametrize("count", [2, 4, 8, 16])
def test_the_default_sampler_puts_n_trials_in_n_equal_slices_of_every_range(count):
    from omegaconf import OmegaConf

    from dlrun.config.compose import compose

    default = compose([], return_hydra_config=True).hydra.sweeper
    space = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))", "model.width=int(interval(16, 271))",
                         "optim=choice(sgd,adam)"])
    sampler = build_sampler(default.sampler, OmegaConf.to_container(default.samplers).get(default.sampler, {}),
                            default.seed, tuple(space.params))
    study = optuna.create_study(sampler=sampler)
    points = [study.ask(space.distributions()).params for _ in range(count)]
    assert _slices([p["optim.lr"] for p in points], 1e-5, 1e-1, count) == list(range(count))
    assert sorted((p["model.width"] - 16) * count // 256 for p in points) == list(range(count))
    assert sorted(p["optim"] for p in points) == ["adam"] * (count // 2) + ["sgd"] * (count // 2)


def test_random_draws_cluster_where_sobol_does_not():
    """What the default replaced: seed 0's first 8 random log-lr draws miss slices of the range."""
    space = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))"])
    study = optuna.create_study(sampler=build_sampler("random", {}, 0))
    drawn = _slices([study.ask(space.distributions()).params["optim.lr"] for _ in range(8)], 1e-5, 1e-1, 8)
    assert len(set(drawn)) < 8


def test_sobol_workers_on_one_study_draw_different_points_that_still_cover_the_range(tmp_path):
    """Four workers (each its own sampler, as each process has) asking in turn from one
    journal study: the trial number picks the point, so no two draw the same one."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    space = parse_space(["optim.lr=tag(log, interval(1e-5, 1e-1))", "optim.momentum=interval(0.5, 0.99)"])
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "study.journal")))
    optuna.create_study(storage=storage, study_name="s")
    workers = [optuna.load_study(study_name="s", storage=storage,
                                 sampler=build_sampler("sobol", {}, 0, tuple(space.params))) for _ in range(4)]
    asked = [workers[n % 4].ask(space.distributions()) for n in range(16)]
    lrs = [trial.params["optim.lr"] for trial in asked]
    assert len(set(lrs)) == 16 and _slices(lrs, 1e-5, 1e-1, 16) == list(range(16))
    again = optuna.load_study(study_name="s", storage=storage, sampler=build_sampler("sobol", {}, 0, tuple(space.params)))
    assert again.ask(space.distributions()).params["optim.lr"] not in lrs  # a continued sweep draws new points
