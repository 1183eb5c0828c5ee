"""The Hydra application: `dlrun [overrides]` and `dlrun -m [overrides]` end here."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from dlrun.paths import config_dir


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def hydra_main(cfg):
    """One job: returns the objective value for sweepers (None when the run did not complete)."""
    from dlrun.runner import RunFailed
    from dlrun.schema import ConfigError
    from dlrun.session import run_experiment

    hydra_cfg = HydraConfig.get()
    single = hydra_cfg.mode == RunMode.RUN
    try:
        summary = run_experiment(cfg, Path(hydra_cfg.runtime.output_dir))
    except ConfigError as error:
        if single:
            print(f"dlrun: config error:\n  " + "\n  ".join(error.problems), file=sys.stderr)
            sys.exit(2)
        raise
    if summary["status"] != "completed":
        if single:
            sys.exit(1)
        raise RunFailed(f"{summary['status']}: {summary['run_dir']}")
    return summary["objective"]["value"]
