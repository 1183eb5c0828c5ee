"""Everything a command line asks for, checked before Hydra starts and before any folder
exists, whatever the flags: the overrides' syntax, composition (--config-dir, -cp, -cn,
+key=), validation, the run or sweep folder; for -m, the sweep's fixed overrides with one
point of its search space and with each option of every choice. The same checks back
`dlrun validate` and `dlrun show`. Imports neither torch nor lightning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlrun.config.command_line import CommandLine, read_command_line
from dlrun.config.compose import compose, hydra_for
from dlrun.base.errors import ConfigError
from dlrun.config.output_checks import output_problems
from dlrun.config.validate import validate, validated

# A sweep is checked at its probe point plus at most this many other points (each ~0.1 s).
MORE_SWEEP_POINTS = 8


@dataclass(frozen=True)
class Checked:
    command_line: CommandLine
    # composed with its hydra node: the run's config, or a sweep's base config (no sweep
    # values); None for Hydra's own flags (--help, --info, ...)
    config: Any = None
    # a single run's validated config (dlrun.config.validate.validated); None for a sweep or --cfg
    run_config: Any = None


def _search_space(line: CommandLine, base):
    """The sweep's search space, after every check its sweeper makes before the first trial
    (settings, space, plan): `dlrun validate -m` and `dlrun -m` refuse the same things."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from dlrun.recipe.metrics import objectives
    from dlrun.sweeps.driver import SweepRequest, plan_sweep
    from dlrun.sweeps.settings import SweepSettingsError
    from dlrun.sweeps.space import SearchSpaceError

    try:
        with hydra_for(line.source) as hydra:
            request = SweepRequest(
                settings=OmegaConf.to_container(base.hydra.sweeper, resolve=True), arguments=list(line.overrides),
                sweep_dir=Path(str(base.hydra.sweep.dir)), objective=objectives(base.objective),
                launcher=_launcher(base), hydra_overrides=[],
                config_loader=hydra.config_loader)
            return plan_sweep(request, warn=False).space
    except (SearchSpaceError, SweepSettingsError) as error:
        raise ConfigError(str(error).split("\n  ")) from None
    except ValueError as error:  # e.g. Optuna refusing an empty choice (glob() matching nothing)
        raise ConfigError([f"the sweep's search space: {error}"]) from None


def _launcher(base) -> dict:
    """hydra.launcher resolved; {} where it does not resolve (the sweeper says why, in one line)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(base.hydra.launcher, resolve=True)
    except OmegaConfBaseException:
        return {}


def sweep_points(space) -> list:
    """The probe (first options, middles of intervals), then the probe with each other option
    of every choice in turn: a bad option fails here, not in its trial."""
    from optuna.distributions import CategoricalDistribution

    probe = space.probe()
    points = [probe]
    # every knob's middle: space.active() keeps those the point's options take
    every_knob = {key: param.representative() for key, param in space.params.items()}
    for key, param in space.params.items():
        if isinstance(param.distribution, CategoricalDistribution):
            points += [space.active({**every_knob, key: choice}) for choice in param.distribution.choices[1:]]
    return points[: 1 + MORE_SWEEP_POINTS]


def _point_config(base, point: dict):
    """The sweep's base config with a point's values set, when every swept key is a plain key
    of it (`optim.lr`, not a group such as `optim`): no second composition for a point that
    only changes values. None when a key needs Hydra (a group's option, a new or unknown key)."""
    import copy

    from omegaconf import OmegaConf, open_dict

    absent = object()
    for key in point:
        found = OmegaConf.select(base, key, default=absent)
        if found is absent or OmegaConf.is_config(found):
            return None
    from dlrun.config.option_name import name_options

    cfg = copy.deepcopy(base)
    name_options(cfg)  # read from the hydra node, about to go
    with open_dict(cfg):
        cfg.pop("hydra", None)
    for override in _parsed_point(point):  # `null`, `true`, `[1,2]` as Hydra reads them in the trial
        OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
    return cfg


def _parsed_point(point: dict) -> list:
    """The point's values as Hydra parses the trial's overrides (dlrun.sweeps.space writes them)."""
    from dlrun.config.overrides import parse_overrides
    from dlrun.sweeps.space import override_value

    return parse_overrides([f"{key}={override_value(value)}" for key, value in point.items()])


def _check_sweep(line: CommandLine):
    base = compose(line.overrides, return_hydra_config=True, source=line.source, multirun=True)
    space = _search_space(line, base)
    for point in sweep_points(space):
        overrides = space.overrides(point)
        try:
            cfg = _point_config(base, point)
            validate(cfg if cfg is not None else compose(overrides, source=line.source))
        except ConfigError as error:
            swept = " ".join(overrides[len(space.fixed):])
            where = f" (in the sweep's trial with {swept})" if swept else ""
            raise ConfigError([problem + where for problem in error.problems]) from None
    return base


def machine_problems(run_config) -> list:
    """A single run started here that this machine cannot start: a GPU asked where none can be
    visible. Not for sweeps (a cluster launcher runs them elsewhere) nor for a rank that SLURM
    or torchrun started (it checks on its own node)."""
    from dlrun.base.machine import surely_no_gpu
    from dlrun.distributed.env import external_world_size
    from dlrun.distributed.plan import GPU_ACCELERATORS

    accelerator = run_config.hardware.accelerator
    if accelerator in GPU_ACCELERATORS and external_world_size() == 1 and surely_no_gpu():
        return [f"hardware.accelerator={accelerator}: no GPU is visible on this machine (no GPU device in /dev, or "
                "CUDA_VISIBLE_DEVICES hides them); hardware=cpu or hardware=auto run on the CPU"]
    return []


def check_command_line(args, outputs: bool = True, folder_key: str | None = None) -> Checked:
    """The checked command line and its composed config; ConfigError says what is wrong.
    With `outputs`, the run (sweep) folder must be one that can be created (its problems name
    it `folder_key`, default Hydra's key: dlrun.run() says run_dir)."""
    line = read_command_line(args)
    if line.hydra_only:
        return Checked(line)
    run_config = None
    if line.multirun:
        cfg = _check_sweep(line)
    else:
        cfg = compose(line.overrides, return_hydra_config=True, source=line.source)
        if line.show_cfg is None:  # --cfg prints what composes, a partial config included: nothing runs
            run_config = validated(cfg)
            problems = machine_problems(run_config)
            if problems:
                raise ConfigError(problems)
    if outputs and line.show_cfg is None:
        problems = output_problems(cfg, line.multirun, folder_key)
        if problems:
            raise ConfigError(problems)
    return Checked(line, cfg, run_config)
