"""A checked command line run on the config its precheck composed: a single run through
Hydra's job runner (hydra.core.utils.run_job: the .hydra/ files, job logging to run.log,
env_set, callbacks), a sweep through the configured Hydra sweeper and launcher.

Why not Hydra's app (@hydra.main): it composes the config again, twice (once to read
hydra.mode, once to run), after dlrun's precheck composed and validated it. Here the config
is composed once per command line, and the run trains on exactly the config that was
checked; a sweep composes once more per trial (the sweeper's job). Hydra's flags that run
nothing (--cfg, --info, --help) still go to Hydra's app.
"""

from __future__ import annotations

from pathlib import Path

RUN_MODE_OVERRIDE = "hydra.mode={}"  # as Hydra's app records the mode it ran in


def _with_mode(cfg, mode) -> None:
    """hydra.mode set as Hydra's app sets it when the config leaves it null: in the config and
    among the hydra overrides (a sweep's trials are composed from those, and read their mode)."""
    from omegaconf import open_dict, read_write

    if cfg.hydra.mode is not None:
        return
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = mode
        cfg.hydra.overrides.hydra.append(RUN_MODE_OVERRIDE.format(mode.name))


def _context(cfg, hydra):
    from hydra.types import HydraContext

    from dlrun.base.hydra_private import job_callbacks

    return HydraContext(config_loader=hydra.config_loader, callbacks=job_callbacks(cfg))


def run_single(prepared, run_dir: Path) -> dict:
    """Train the prepared run (dlrun.cli.run_path) in `run_dir` as Hydra's run would; its summary.
    The job's exception, if any, is raised here. A caller that shows no console (dlrun.run) keeps
    its own logging set-up: the run's log goes to its run.log alone."""
    from hydra.core.utils import JobStatus, configure_log, run_job
    from hydra.types import RunMode
    from omegaconf import open_dict, read_write

    from dlrun.base.errors import BadInput
    from dlrun.base.hydra_private import job_exception
    from dlrun.cli.app import job
    from dlrun.config.compose import hydra_for
    from dlrun.training.console import attach_run_log, detach

    cfg, source = prepared.checked.config, prepared.checked.command_line.source
    _with_mode(cfg, RunMode.RUN)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.run.dir = str(run_dir)
    with hydra_for(source) as hydra:
        if prepared.show_console:
            configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
        handlers = [] if prepared.show_console else attach_run_log(run_dir)
        try:
            context = _context(cfg, hydra)
            context.callbacks.on_run_start(config=cfg, config_name=source.config_name)
            returned = run_job(hydra_context=context, task_function=lambda _cfg: job(_cfg, prepared), config=cfg,
                               job_dir_key="hydra.run.dir", job_subdir_key=None, configure_logging=prepared.show_console)
            context.callbacks.on_run_end(config=cfg, config_name=source.config_name, job_return=returned)
        finally:
            detach(handlers)
        failed = job_exception(returned) if returned.status == JobStatus.FAILED else None
        if isinstance(failed, BadInput):  # one line by the caller, without Hydra's "Error executing job" report
            raise failed
        return returned.return_value  # re-raises any other exception of the job


def run_sweep(checked):
    """The sweep of the checked base config: Hydra's configured sweeper (dlrun's) on the
    configured launcher, each trial composed by the sweeper from the task overrides."""
    from hydra.core.plugins import Plugins
    from hydra.core.utils import configure_log
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from dlrun.base.hydra_private import quiet_basic_launcher
    from dlrun.cli.app import job
    from dlrun.config.compose import hydra_for

    cfg, source = checked.config, checked.command_line.source
    _with_mode(cfg, RunMode.MULTIRUN)
    with hydra_for(source) as hydra:
        configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
        quiet_basic_launcher()
        context = _context(cfg, hydra)
        context.callbacks.on_multirun_start(config=cfg, config_name=source.config_name)
        sweeper = Plugins.instance().instantiate_sweeper(config=cfg, hydra_context=context, task_function=job)
        returned = sweeper.sweep(arguments=OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False))
        context.callbacks.on_multirun_end(config=cfg, config_name=source.config_name)
        return returned
