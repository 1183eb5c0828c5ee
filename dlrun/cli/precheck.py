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
    from omegaconf import OmegaConf

    from dlrun.sweeps.space import SearchSpaceError, parse_space

    configured = OmegaConf.to_container(base.hydra.sweeper, resolve=True).get("params") or {}
    try:
        with hydra_for(line.source) as hydra:
            return parse_space(line.overrides, configured, config_loader=hydra.config_loader)
    except SearchSpaceError as error:
        raise ConfigError([str(error)]) from None
    except ValueError as error:  # e.g. Optuna refusing an empty choice (glob() matching nothing)
        raise ConfigError([f"the sweep's search space: {error}"]) from None


def sweep_points(space) -> list:
    """The probe (first options, middles of intervals), then the probe with each other option
    of every choice in turn: a bad option fails here, not in its trial."""
    from optuna.distributions import CategoricalDistribution

    probe = space.probe()
    points = [probe]
    for key, param in space.params.items():
        if isinstance(param.distribution, CategoricalDistribution):
            points += [{**probe, key: choice} for choice in param.distribution.choices[1:]]
    return points[: 1 + MORE_SWEEP_POINTS]


def _check_sweep(line: CommandLine):
    base = compose(line.overrides, return_hydra_config=True, source=line.source, multirun=True)
    space = _search_space(line, base)
    for point in sweep_points(space):
        overrides = space.overrides(point)
        try:
            validate(compose(overrides, source=line.source))
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


def check_command_line(args, outputs: bool = True) -> Checked:
    """The checked command line and its composed config; ConfigError says what is wrong.
    With `outputs`, the run (sweep) folder must be one that can be created."""
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
        problems = output_problems(cfg, line.multirun)
        if problems:
            raise ConfigError(problems)
    return Checked(line, cfg, run_config)
