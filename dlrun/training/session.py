"""A prepared run executed: the launch plan, the record, the console, the summary.

`Run` is what every path prepares (dlrun.cli.run_path.prepare for the `dlrun` command and
`dlrun.run()`, a sweep's trial from the config its sweeper composed and checked, `dlrun resume`
from the run's saved config), and `execute(Run)` is the one place a run starts: every caller
gets the same record, folder ownership, console and summary. A config that asks for several
processes is launched from here (dlrun.distributed): the ranks never see Hydra or a sweeper,
so a trial is one run folder with one config. Population members are Runs too; their
population trains them together (dlrun.population) and writes their files through the same
run layer (dlrun.training.run_files).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from dlrun.training.hooks import RunHooks
from dlrun.training.run_dirs import holding

log = logging.getLogger("dlrun")


@dataclass(frozen=True)
class Run:
    """One prepared run."""
    config: DictConfig  # validated once, before its folder existed (Hydra's node left out): trusted here
    run_dir: Path  # claimed by whoever prepared it
    invocation: object = None  # how it started (dlrun.training.record.Invocation); None: it continues (a resume)
    resume_from: Path | None = None  # the checkpoint it continues from
    title: str | None = None  # the console header's title (default: the run's name)
    overrides: tuple = ()  # a resume's overrides, added to the record


def begin_record(run: Run, config: DictConfig | None = None, processes: int = 1) -> None:
    """The run's record.json with its config as it trains (`config`, default the run's): written
    for a new run, a resume's entry added to a continued one."""
    from omegaconf import OmegaConf

    from dlrun.training.record import add_resume, write_record

    if run.invocation is None:
        add_resume(run.run_dir, list(run.overrides))  # a rerun makes the run as resumed (its overrides too)
        return
    config = config if config is not None else run.config
    write_record(OmegaConf.to_container(config, resolve=True), run.run_dir, run.invocation, processes)


def _train(cfg: DictConfig, run_dir: Path, plan, hooks: RunHooks, resume_from=None) -> dict:
    from dlrun.distributed import plan as modes

    if plan.mode == modes.LAUNCH:
        from dlrun.distributed.launch import launch_ranks

        return launch_ranks(cfg, run_dir, plan.devices, hooks)
    if plan.mode == modes.RANK:  # SLURM (or torchrun) started this process as one rank
        from dlrun.distributed.rank import run_rank

        return run_rank(cfg, run_dir, hooks)
    from dlrun.training.runner import execute as train_in_this_process

    return train_in_this_process(cfg, run_dir, resume_from=resume_from, hooks=hooks)


def execute(run: Run, hooks: RunHooks = RunHooks(), show_console: bool = True) -> dict:
    """Write the run's record, print the config, train and test (with the caller's `hooks`),
    print the result; return the summary."""
    from dlrun.distributed.plan import plan_launch
    from dlrun.training.console import print_header, print_result

    plan = plan_launch(run.config.hardware)
    cfg, run_dir = plan.apply(run.config), Path(run.run_dir)
    show_console = show_console and plan.is_rank_zero
    if show_console:
        print_header(cfg, run_dir, title=run.title)
    with holding(run_dir) if plan.is_rank_zero else nullcontext():  # one live owner per run folder
        if plan.is_rank_zero:
            begin_record(run, cfg, plan.devices * plan.num_nodes)
        summary = _train(cfg, run_dir, plan, hooks, run.resume_from)
    if show_console:
        print_result(summary)
    if plan.is_rank_zero:
        log.info("summary: %s", Path(run_dir) / "summary.json")
    return summary
