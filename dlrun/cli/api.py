"""`dlrun.run(overrides)`: the CLI's run path as a function, for notebooks and tests."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from dlrun.config.compose import compose
from dlrun.base.errors import ConfigError
from dlrun.config.output_checks import folder_problems, output_problems
from dlrun.training.run_dirs import claim, holding
from dlrun.training.hooks import RunHooks
from dlrun.training.console import attach_run_log, detach
from dlrun.config.validate import validated
from dlrun.training.record import ConfigSources, Invocation
from dlrun.training.session import run_experiment


def run_hooks() -> RunHooks:
    """What every run dlrun starts gets from the layers above the run layer (which names
    neither): a sweep trial's pruning (it does nothing outside a trial) and the run's plots."""
    from dlrun.report.curves import plot_run
    from dlrun.sweeps.pruning import pruning_callback

    return RunHooks(callbacks=(pruning_callback,), at_end=(plot_run,))


def _save_hydra_files(config, run_dir: Path, overrides) -> None:
    """The same .hydra/ files the CLI leaves, so every run folder reads alike."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), hydra_dir / "overrides.yaml")


def run(overrides=None, run_dir=None, show_console: bool = False) -> dict:
    """Compose, validate (ConfigError on bad input), claim the run folder (a new one, or
    `run_dir`, which must not hold a run), train, test; return the summary dict (its
    run_dir absolute)."""
    overrides = list(overrides or [])
    cfg = compose(overrides, return_hydra_config=True)
    config = validated(cfg)  # once, before the run folder exists: a rejected config leaves nothing
    problems = folder_problems(run_dir, "run_dir") if run_dir is not None else output_problems(cfg, multirun=False)
    if problems:
        raise ConfigError(problems)
    run_dir = claim(run_dir if run_dir is not None else cfg.hydra.run.dir, named=run_dir is not None, key="run_dir",
                    config=config).resolve()
    with holding(run_dir):
        _save_hydra_files(config, run_dir, overrides)
        handlers = attach_run_log(run_dir)
        try:
            return run_experiment(config, run_dir, show_console=show_console, hooks=run_hooks(),
                                  invocation=Invocation("dlrun.run()", ConfigSources(os.getcwd()), tuple(overrides)))
        finally:
            detach(handlers)
