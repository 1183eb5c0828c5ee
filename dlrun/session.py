"""Around one run: validation, the saved config, the console, the exit status.

Shared by the Hydra entry point (the CLI, single runs and sweeps) and `dlrun.run`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dlrun.compose import without_hydra
from dlrun.schema import validate

log = logging.getLogger("dlrun")


def run_experiment(cfg: DictConfig, run_dir: Path, show_console: bool = True) -> dict:
    """Validate, print the config, train and test, print the result; return the summary."""
    from dlrun.console import print_config, print_result
    from dlrun.runner import execute

    cfg = without_hydra(cfg)
    validate(cfg)
    if show_console:
        print_config(OmegaConf.to_container(cfg), title=f"{cfg.name} -> {run_dir}")
    summary = execute(cfg, run_dir)
    if show_console:
        print_result(summary)
    log.info("summary: %s", Path(run_dir) / "summary.json")
    return summary
