"""The Hydra application: `dlrun [overrides]` and `dlrun -m [overrides]` end here."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from dlrun.base.paths import config_dir

log = logging.getLogger("dlrun")
DLRUN_SWEEPER = "hydra_plugins.dlrun_sweeper."


def name_sweep_job(cfg, hydra_cfg) -> None:
    """In a sweep, each job's tracker runs are NAME-N, grouped under the sweep folder's name
    (unless logger.LOGGER.name / group say otherwise)."""
    from dlrun.loggers.table import name_tracker_runs

    name_tracker_runs(cfg, f"{cfg.name}-{hydra_cfg.job.num}", Path(str(hydra_cfg.sweep.dir)).name)


def _end_of_sweep_job(summary: dict):
    """A sweep job's return value is its objective value; a job that did not complete
    raises, and the sweeper reads how it ended (failed, pruned, diverged) from its
    summary.json. A job stopped by a signal (kill, Ctrl+C) stops the whole sweep: that is
    what was asked."""
    from dlrun.training.runner import RunFailed

    if summary["status"] == "interrupted":
        raise KeyboardInterrupt(f"sweep stopped during trial {summary['run_dir']}; run the same command "
                                "again to continue the sweep")
    if summary["status"] == "completed":
        return summary["objective"]["value"]
    raise RunFailed(f"{summary['status']}: {summary['run_dir']}")


def _checked_before(hydra_cfg) -> bool:
    """Whether this job's config was validated before Hydra handed it over: a single run's
    command line was (dlrun.cli.precheck, in this process, before Hydra started), and so
    is each trial of dlrun's sweeper (before it launches the trial). A job of another sweeper
    (hydra/sweeper=basic) is validated here."""
    return hydra_cfg.mode == RunMode.RUN or str(hydra_cfg.sweeper.get("_target_", "")).startswith(DLRUN_SWEEPER)


def job(cfg, prepared=None):
    """One Hydra job: a single run (its summary) or a sweep's trial (the objective value for
    sweepers). `prepared`: the single run as dlrun.cli.run_path prepared it (its config
    validated once, before its folder existed), used as it is."""
    from dlrun.cli.hooks import run_hooks
    from dlrun.config.compose import without_hydra
    from dlrun.config.option_name import name_saved_job_config
    from dlrun.config.validate import validated
    from dlrun.training.console import output_to_run_log
    from dlrun.training.record import invocation_from_hydra
    from dlrun.training.session import Run, execute

    hydra_cfg = HydraConfig.get()
    name_saved_job_config()  # resume, evaluate, predict read it outside Hydra
    single = hydra_cfg.mode == RunMode.RUN
    if not single:
        log.info("sweep job %s starting in process %d", hydra_cfg.job.num, os.getpid())  # run.log: when and where
        name_sweep_job(cfg, hydra_cfg)
    if prepared is not None:
        config = prepared.checked.run_config
    else:
        config = without_hydra(cfg) if _checked_before(hydra_cfg) else validated(cfg)
    kind = prepared.kind if prepared is not None else None
    run = Run(config, Path(hydra_cfg.runtime.output_dir), invocation_from_hydra(hydra_cfg, kind))
    with output_to_run_log(hydra_cfg.runtime.output_dir):  # a sweep's console holds the sweep's lines
        summary = execute(run, hooks=run_hooks(), show_console=prepared is None or prepared.show_console)
    return summary if single else _end_of_sweep_job(summary)


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def hydra_main(cfg):
    """Hydra's own app: what `dlrun` hands it (--cfg, --info, --help, and a job started by a
    launcher from its pickled config runs `job` itself)."""
    return job(cfg)
