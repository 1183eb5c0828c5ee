"""Around one validated run: the launch plan, the console, the exit status.

Shared by the Hydra entry point (the CLI, single runs and sweeps) and `dlrun.run`. A
config that asks for several processes is launched from here (dlrun.distributed): the
ranks never see Hydra or a sweeper, so a trial is one run folder with one config.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path

from omegaconf import DictConfig

from dlrun.training.hooks import RunHooks
from dlrun.training.run_dirs import holding

log = logging.getLogger("dlrun")


def _train(cfg: DictConfig, run_dir: Path, plan, hooks: RunHooks) -> dict:
    from dlrun.distributed import plan as modes

    if plan.mode == modes.LAUNCH:
        from dlrun.distributed.launch import launch_ranks

        return launch_ranks(cfg, run_dir, plan.devices, hooks)
    if plan.mode == modes.RANK:  # SLURM (or torchrun) started this process as one rank
        from dlrun.distributed.rank import run_rank

        return run_rank(cfg, run_dir, hooks)
    from dlrun.training.runner import execute

    return execute(cfg, run_dir, hooks=hooks)


def run_experiment(cfg: DictConfig, run_dir: Path, show_console: bool = True, hooks: RunHooks = RunHooks(),
                   invocation=None) -> dict:
    """Write the run's record (how it was started: `invocation`, a dlrun.training.record.Invocation),
    print the config, train and test (with the caller's `hooks`), print the result; return
    the summary. `cfg` is the run's config as validated once, before its folder existed
    (dlrun.config.validate.validated, Hydra's node left out): it is trusted here, not checked again."""
    from omegaconf import OmegaConf

    from dlrun.distributed.plan import plan_launch
    from dlrun.training.console import print_header, print_result
    from dlrun.training.record import write_record

    plan = plan_launch(cfg.hardware)
    cfg = plan.apply(cfg)
    show_console = show_console and plan.is_rank_zero
    if show_console:
        print_header(cfg, run_dir)
    with holding(run_dir) if plan.is_rank_zero else nullcontext():  # one live owner per run folder
        if plan.is_rank_zero and invocation is not None:
            write_record(OmegaConf.to_container(cfg, resolve=True), run_dir, invocation, plan.devices * plan.num_nodes)
        summary = _train(cfg, Path(run_dir), plan, hooks)
    if show_console:
        print_result(summary)
    if plan.is_rank_zero:
        log.info("summary: %s", Path(run_dir) / "summary.json")
    return summary
