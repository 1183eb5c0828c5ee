"""`dlrun [OVERRIDES...]` and `dlrun -m [OVERRIDES...]`: a run or a sweep. The command line
is checked first (exit 2 on bad input, before any folder exists), composing its config once;
a single run then claims and holds its own run folder and trains that config, a sweep hands
it to its sweeper (dlrun.cli.entry). Hydra's flags that run nothing (--cfg, --help, --info)
go to Hydra's app (dlrun.cli.app).
"""

from __future__ import annotations

import sys

from dlrun.base.errors import refusing_bad_input

RUN_DIR_KEY = "hydra.run.dir"
HELP_HEADER_KEY = "hydra.help.header"
HEADER = "dlrun: a config-driven deep-learning experiment runner.\n"


def _claim_run_dir(args, checked):
    """The run folder this process has claimed. Claimed before anything is written: a folder
    from the default pattern may be taken by a run started in the same second (then NAME-2);
    ConfigError when a folder named on purpose holds a run or anything else."""
    from omegaconf import OmegaConf

    from dlrun.training.run_dirs import claim

    named = any(arg.split("=")[0].lstrip("+") == RUN_DIR_KEY for arg in args)
    # ${now:} resolved once, here; the folder appears with summary.json in it
    return claim(OmegaConf.select(checked.config, RUN_DIR_KEY), named, config=checked.run_config)


def _with_usage(args) -> list:
    """--help: Hydra's help under dlrun's usage lines (from dlrun.cli.main's table)."""
    from dlrun.cli.main import usage
    from dlrun.config.overrides import hydra_quoted

    return args + [f"{HELP_HEADER_KEY}={hydra_quoted(HEADER + usage())}"]


def _run_app(args) -> int:
    from dlrun.cli.app import hydra_main

    sys.argv = ["dlrun", *args]
    hydra_main()
    return 0


def _stopped(stop: KeyboardInterrupt) -> int:
    """A signal stopped a run or a sweep: its trial saved its checkpoint; no traceback."""
    print(f"dlrun: {stop or 'stopped'}", file=sys.stderr)
    return 130


def _single_run(checked, args):
    """The run folder this process claimed and trained in (None for one of several ranks)."""
    from dlrun.base.hydra_private import reporting_errors
    from dlrun.cli.entry import run_single
    from dlrun.distributed.env import external_world_size
    from dlrun.training.run_dirs import holding

    if external_world_size() > 1:
        # one of several ranks started by SLURM or torchrun: they share one folder that every
        # rank computes alike; rank zero holds it once the run starts (dlrun.training.session)
        reporting_errors(lambda: run_single(checked, checked.config.hydra.run.dir))
        return None
    run_dir = _claim_run_dir(args, checked)  # bad input (a folder taken) is printed by main, exit 2
    with holding(run_dir):
        reporting_errors(lambda: run_single(checked, run_dir))
    return run_dir


@refusing_bad_input()
def main(args) -> int:
    return start(args)[0]


def start(args) -> tuple:
    """(exit status, the run folder this process claimed, or None: a sweep, --cfg, --help, a rank)."""
    from dlrun.base.hydra_private import reporting_errors
    from dlrun.base.secrets import hide_in_arguments
    from dlrun.cli.precheck import check_command_line

    args = hide_in_arguments(args)  # Hydra and dlrun write the command line into their files
    checked = check_command_line(args)
    line = checked.command_line
    if line.app_help:
        return _run_app(_with_usage(args)), None
    if line.hydra_only or line.show_cfg is not None:
        return _run_app(args), None
    try:
        if line.multirun:
            from dlrun.cli.entry import run_sweep

            reporting_errors(lambda: run_sweep(checked))
            return 0, None
        return 0, _single_run(checked, args)
    except KeyboardInterrupt as stop:
        return _stopped(stop), None
