"""The sweeper's settings (hydra.sweeper.*, defaults in conf/hydra/sweeper/dlrun.yaml),
checked before any trial starts; and the plan they make with a search space."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from dlrun.base.errors import BadInput
from dlrun.recipe.metrics import direction as metric_direction, objectives
from dlrun.sweeps.samplers import PRUNERS, SAMPLERS
from dlrun.base.secrets import masked, revealed
from dlrun.sweeps.storage import url_problem

log = logging.getLogger("dlrun.sweep")

DIRECTIONS = ("minimize", "maximize")


class SweepSettingsError(BadInput):
    """Settings that must not start a sweep; str() names each key, value and what is allowed."""


@dataclass(frozen=True)
class SweepSettings:
    n_trials: int | None
    n_jobs: int
    sampler: str
    seed: int | None
    directions: tuple  # one per objective, in the objective's order
    max_failure_rate: float
    pruner: str
    sampler_knobs: dict
    pruner_knobs: dict
    params: dict
    storage: str | None = None  # None: the journal file in the sweep folder; else a database URL
    study_name: str | None = None
    population: int = 1  # trials a slot claims and launches together (launcher=population: hydra.launcher.size)
    storage_outage_s: float | None = None  # how long a database storage may be unreachable (None: not retried)

    @property
    def direction(self) -> str:
        """The first objective's: the one that sorts trials and picks checkpoints."""
        return self.directions[0]


@dataclass(frozen=True)
class Plan:
    n_trials: int | None  # trials in all; None: every combination of a grid
    n_jobs: int
    grid: bool
    max_failure_rate: float
    population: int = 1


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


POPULATION_LAUNCHER = "PopulationLauncher"


def is_population(launcher: dict) -> bool:
    return str(launcher.get("_target_", "")).endswith(POPULATION_LAUNCHER)


def runs_in_this_process(launcher: dict) -> bool:
    """Hydra's basic launcher (and dlrun's population launcher) runs trials inside the sweep's own process."""
    return str(launcher.get("_target_", "")).endswith("BasicLauncher") or is_population(launcher)


def launcher_parallelism(launcher: dict) -> int:
    """How many trials the configured launcher runs at once."""
    if runs_in_this_process(launcher):
        return 1
    jobs = launcher.get("n_jobs")  # joblib: -1 all cores, -2 all but one, ...
    if isinstance(jobs, int) and jobs != 0:
        return jobs if jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + jobs)
    parallel = launcher.get("array_parallelism")  # submitit
    return parallel if _is_count(parallel) else 1


def _problems(raw: dict) -> list:
    checks = [
        ("n_trials", raw.get("n_trials") is None or _is_count(raw.get("n_trials")), "null or an integer >= 1"),
        ("n_jobs", raw.get("n_jobs") is None or _is_count(raw.get("n_jobs")), "null or an integer >= 1"),
        ("sampler", raw.get("sampler") in SAMPLERS, "one of: " + ", ".join(SAMPLERS)),
        ("pruner", raw.get("pruner") in PRUNERS, "one of: " + ", ".join(PRUNERS)),
        ("seed", raw.get("seed") is None or (isinstance(raw.get("seed"), int) and raw.get("seed") >= 0),
         "null or an integer >= 0"),
        ("direction", raw.get("direction") in (None, *DIRECTIONS) or (
            isinstance(raw.get("direction"), list) and bool(raw.get("direction"))
            and all(item in DIRECTIONS for item in raw.get("direction"))),
         "null, minimize, maximize or a list of them (one per objective)"),
        ("max_failure_rate", isinstance(raw.get("max_failure_rate"), (int, float))
         and not isinstance(raw.get("max_failure_rate"), bool) and 0 <= raw.get("max_failure_rate") <= 1,
         "a number in [0, 1]"),
        ("storage_outage_s", isinstance(raw.get("storage_outage_s"), (int, float))
         and not isinstance(raw.get("storage_outage_s"), bool) and raw.get("storage_outage_s") > 0,
         "a number of seconds > 0"),
        ("study_name", raw.get("study_name") is None or (isinstance(raw.get("study_name"), str)
                                                        and raw.get("study_name").strip() != ""),
         "null or a name"),
    ]
    storage = raw.get("storage")
    if storage is not None:
        problem = url_problem(storage) if isinstance(storage, str) else "expected null or a database URL"
        if problem:
            checks.append(("storage", False, problem))
        elif raw.get("study_name") is None:
            checks.append(("study_name", False, "a name with hydra.sweeper.storage=URL (the study every worker joins)"))
    return [f"hydra.sweeper.{key}={_shown(key, raw.get(key))}: {_expected(allowed)}" for key, ok, allowed in checks
            if not ok]


def _shown(key: str, value) -> str:
    return repr(masked(value)) if key == "storage" and isinstance(value, str) and "://" in value else repr(value)


def _expected(allowed: str) -> str:
    return allowed if allowed.startswith(("expected", "needs")) else f"expected {allowed}"


def _slots(raw: dict, launcher: dict, warn: bool) -> int:
    if raw["n_jobs"] and raw["n_jobs"] > 1 and runs_in_this_process(launcher):
        if warn and is_population(launcher):
            log.warning("hydra.sweeper.n_jobs=%d: the population launcher trains one population at a time in this "
                        "process (hydra.launcher.size sets how many trials it holds)", raw["n_jobs"])
        elif warn:
            log.warning("hydra.sweeper.n_jobs=%d: the basic launcher runs one trial at a time in this process "
                        "(launcher=joblib runs several)", raw["n_jobs"])
        return 1
    return raw["n_jobs"] or launcher_parallelism(launcher)


def _population_size(launcher: dict):
    """hydra.launcher.size of launcher=population (1 for any other launcher), or a problem line."""
    if not is_population(launcher):
        return 1, None
    size = launcher.get("size")
    return (size, None) if _is_count(size) else (None, f"hydra.launcher.size={size!r}: expected an integer >= 1")


def _directions(raw: dict, names: list):
    """(one direction per objective, a problem line or None): hydra.sweeper.direction, else each metric's."""
    given = raw.get("direction")
    if given is None:
        return tuple(metric_direction(name) for name in names), None
    given = [given] if isinstance(given, str) else list(given)
    if len(given) != len(names):
        return None, (f"hydra.sweeper.direction={given!r}: expected one direction per objective "
                      f"({len(names)}: {', '.join(names)})")
    return tuple(given), None


def _multi_objective_problems(raw: dict, names: list) -> list:
    if len(names) > 1 and raw.get("pruner") not in (None, "none"):
        return [f"hydra.sweeper.pruner={raw.get('pruner')}: Optuna cannot prune a multi-objective sweep "
                f"(objective=[{','.join(names)}]); use hydra.sweeper.pruner=none"]
    return []


def read_settings(raw: dict, objective, launcher: dict, warn: bool = True) -> SweepSettings:
    """`objective`: the config's, a metric name or a list of them (a multi-objective sweep)."""
    population, population_problem = _population_size(launcher)
    problems = _problems(raw) + ([population_problem] if population_problem else [])
    names = objectives(objective)
    directions, direction_problem = _directions(raw, names) if not problems else (None, None)
    problems += [direction_problem] if direction_problem else []
    problems += _multi_objective_problems(raw, names)
    if problems:
        raise SweepSettingsError("\n  ".join(problems))
    return SweepSettings(
        n_trials=raw["n_trials"],
        n_jobs=_slots(raw, launcher, warn),
        sampler=raw["sampler"],
        seed=raw["seed"],
        directions=directions,
        max_failure_rate=float(raw["max_failure_rate"]),
        pruner=raw["pruner"],
        sampler_knobs=dict((raw.get("samplers") or {}).get(raw["sampler"]) or {}),
        pruner_knobs=dict((raw.get("pruners") or {}).get(raw["pruner"]) or {}),
        params={str(key): str(value) for key, value in (raw.get("params") or {}).items()},
        storage=revealed(raw.get("storage")),  # the command line's URL, password and all (dlrun.base.secrets)
        study_name=raw.get("study_name"),
        population=population,
        storage_outage_s=float(raw["storage_outage_s"]),
    )


def make_plan(space, settings: SweepSettings) -> Plan:
    """A grid when asked for, or when no n_trials is given (Hydra's meaning of a sweep of
    comma lists: every combination once); intervals need a trial count."""
    grid = settings.sampler == "grid" or settings.n_trials is None
    continuous = [f"{key}={param.text}" for key, param in space.params.items() if not param.discrete]
    if grid and continuous:
        if settings.sampler == "grid":
            raise SweepSettingsError(f"hydra.sweeper.sampler=grid: {continuous[0]} is an interval, which a grid cannot "
                                     "enumerate; use a comma list, choice(...) or range(...), or another sampler")
        raise SweepSettingsError(f"hydra.sweeper.n_trials=null: {continuous[0]} is an interval, so the sweep needs a "
                                 "trial count: add hydra.sweeper.n_trials=N (e.g. 20)")
    return Plan(n_trials=settings.n_trials, n_jobs=settings.n_jobs, grid=grid,
                max_failure_rate=settings.max_failure_rate, population=settings.population)
