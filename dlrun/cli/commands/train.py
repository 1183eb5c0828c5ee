"""`dlrun [OVERRIDES...]` and `dlrun -m [OVERRIDES...]`: a run or a sweep. The command line
is checked first (exit 2 on bad input, before any folder exists); a single run then claims
and holds its own run folder; then argv goes to Hydra's app (dlrun.cli.app)."""

from __future__ import annotations

import sys

from dlrun.base.errors import refusing_bad_input

RUN_DIR_KEY = "hydra.run.dir"
HELP_HEADER_KEY = "hydra.help.header"
HEADER = "dlrun: a config-driven deep-learning experiment runner.\n"


def _claim_run_dir(args, checked):
    """(args naming the run folder this process has claimed, that folder). Claimed before
    Hydra starts: Hydra would write into a folder shared by every run started in the same
    second. ConfigError when a folder named on purpose holds a run."""
    from omegaconf import OmegaConf

    from dlrun.config.overrides import hydra_quoted
    from dlrun.training.run_dirs import claim

    named = any(arg.split("=")[0].lstrip("+") == RUN_DIR_KEY for arg in args)
    # ${now:} resolved once, here; the folder appears with summary.json in it
    run_dir = claim(OmegaConf.select(checked.config, RUN_DIR_KEY), named, config=checked.run_config)
    kept = [arg for arg in args if arg.split("=")[0].lstrip("+") != RUN_DIR_KEY]
    return kept + [f"{RUN_DIR_KEY}={hydra_quoted(str(run_dir))}"], run_dir


def _with_usage(args) -> list:
    """--help: Hydra's help under dlrun's usage lines (from dlrun.cli.main's table)."""
    from dlrun.cli.main import usage
    from dlrun.config.overrides import hydra_quoted

    return args + [f"{HELP_HEADER_KEY}={hydra_quoted(HEADER + usage())}"]


def _run_app(args) -> int:
    from dlrun.cli.app import hydra_main

    sys.argv = ["dlrun", *args]
    try:
        hydra_main()
    except KeyboardInterrupt as stop:  # a signal stopped a sweep: its trial saved its checkpoint; no traceback
        print(f"dlrun: {stop or 'stopped'}", file=sys.stderr)
        return 130
    return 0


def _owns_its_folder(checked) -> bool:
    """A single training run started here: not a sweep, not --cfg/--help, not one of several
    ranks started by SLURM or torchrun (they share one folder that every rank computes
    alike; rank zero holds it once the run starts, in dlrun.training.session)."""
    from dlrun.distributed.env import external_world_size

    line = checked.command_line
    return not (line.multirun or line.hydra_only or line.show_cfg is not None or external_world_size() > 1)


@refusing_bad_input()
def main(args) -> int:
    from dlrun.cli.precheck import check_command_line

    checked = check_command_line(args)
    if checked.command_line.app_help:
        return _run_app(_with_usage(args))
    if not _owns_its_folder(checked):
        return _run_app(args)
    from dlrun.training.run_dirs import holding

    args, run_dir = _claim_run_dir(args, checked)
    with holding(run_dir):
        return _run_app(args)
