"""Samplers and pruners: one table each, one factory each. Their knobs come from the
sweeper's YAML (hydra.sweeper.samplers.NAME / hydra.sweeper.pruners.NAME)."""

from __future__ import annotations

import warnings

from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler

from dlrun.base.options import load_object, lookup

# sobol: trial N takes point N of one scrambled Sobol sequence (dlrun.sweeps.sobol), the
# default; grid: the sweeper enqueues every combination in order, so the sampler never draws.
SAMPLERS = {
    "sobol": "dlrun.sweeps.sobol:SobolSampler",
    "random": "optuna.samplers:RandomSampler",
    "tpe": "optuna.samplers:TPESampler",
    "qmc": "optuna.samplers:QMCSampler",
    "grid": "optuna.samplers:RandomSampler",
}
# Random and TPE draw each trial from a sampler seeded by (seed, trial number): the same
# command searches the same points, a continued sweep draws new ones, and K workers that
# start at once (each its own sampler, all seeded alike) never draw the same point. QMC
# counts its own position in the study, so its seed stays.
SEEDED_PER_TRIAL = ("random", "tpe", "grid")
QUIET = {"qmc": {"warn_independent_sampling": False, "warn_asynchronous_seeding": False}}

PRUNERS = {
    "none": "optuna.pruners:NopPruner",
    "median": "optuna.pruners:MedianPruner",
    "successive_halving": "optuna.pruners:SuccessiveHalvingPruner",
}


def _make(cls, seed, knobs: dict):
    with warnings.catch_warnings():  # QMCSampler (and TPE's multivariate) are "experimental": said every time
        warnings.simplefilter("ignore", ExperimentalWarning)
        return cls(seed=seed, **knobs)


def trial_seed(seed: int, number: int) -> int:
    """A seed of its own for each trial number, well mixed (nearby numbers share no stream)."""
    import numpy as np

    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class SeededPerTrial(BaseSampler):
    """Optuna's sampler `cls`, made anew for each trial with trial_seed(seed, number). Every
    call about one trial goes to that trial's sampler; the sweep asks one trial at a time
    per process, so one is kept."""

    def __init__(self, cls, seed: int, knobs: dict):
        self.cls, self.seed, self.knobs = cls, seed, knobs
        self._number, self._sampler = None, None

    @property
    def inner(self):
        """The sampler of the last trial asked (or one for trial 0): its knobs, for tests and logs."""
        return self._sampler or _make(self.cls, trial_seed(self.seed, 0), self.knobs)

    def _of(self, trial):
        if trial.number != self._number:
            self._number, self._sampler = trial.number, _make(self.cls, trial_seed(self.seed, trial.number), self.knobs)
        return self._sampler

    def infer_relative_search_space(self, study, trial):
        return self._of(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._of(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._of(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._of(trial).before_trial(study, trial)

    def reseed_rng(self) -> None:  # the seeds are per trial already
        pass


def build_sampler(name: str, knobs: dict, seed, dimensions=()):
    """`dimensions`: the search space's parameter names, in order (the Sobol sampler's axes)."""
    cls = load_object(lookup(SAMPLERS, "sampler (hydra.sweeper.sampler)", name))
    knobs = {**QUIET.get(name, {}), **dict(knobs or {})}
    if name == "sobol":
        knobs["dimensions"] = tuple(dimensions)
    if seed is not None and name in SEEDED_PER_TRIAL:
        return SeededPerTrial(cls, seed, knobs)
    return _make(cls, seed, knobs)


def build_pruner(name: str, knobs: dict):
    cls = load_object(lookup(PRUNERS, "pruner (hydra.sweeper.pruner)", name))
    return cls(**dict(knobs or {}))
