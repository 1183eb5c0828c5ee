"""Samplers and pruners: one table each, one factory each. Their knobs come from the
sweeper's YAML (hydra.sweeper.samplers.NAME / hydra.sweeper.pruners.NAME)."""

from __future__ import annotations

import warnings

from optuna.exceptions import ExperimentalWarning

from dlrun.registry import load_object, lookup

# grid: the sweeper enqueues every combination in order, so the sampler never draws.
SAMPLERS = {
    "random": "optuna.samplers:RandomSampler",
    "tpe": "optuna.samplers:TPESampler",
    "qmc": "optuna.samplers:QMCSampler",
    "grid": "optuna.samplers:RandomSampler",
}
# A seeded random / TPE sampler restarted on a resumed study would draw the same points
# again: their seed moves on by the number of trials already there. QMC counts its own
# position in the study, so its seed stays.
RESEEDED_ON_RESUME = ("random", "tpe", "grid")
QUIET = {"qmc": {"warn_independent_sampling": False, "warn_asynchronous_seeding": False}}

PRUNERS = {
    "none": "optuna.pruners:NopPruner",
    "median": "optuna.pruners:MedianPruner",
    "successive_halving": "optuna.pruners:SuccessiveHalvingPruner",
}


def build_sampler(name: str, knobs: dict, seed, trials_so_far: int = 0):
    cls = load_object(lookup(SAMPLERS, "sampler (hydra.sweeper.sampler)", name))
    if seed is not None and name in RESEEDED_ON_RESUME:
        seed = seed + trials_so_far
    with warnings.catch_warnings():  # QMCSampler is "experimental" since Optuna 3.0: said on every sweep
        warnings.simplefilter("ignore", ExperimentalWarning)
        return cls(seed=seed, **QUIET.get(name, {}), **dict(knobs or {}))


def build_pruner(name: str, knobs: dict):
    cls = load_object(lookup(PRUNERS, "pruner (hydra.sweeper.pruner)", name))
    return cls(**dict(knobs or {}))
