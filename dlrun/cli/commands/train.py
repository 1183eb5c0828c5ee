"""`dlrun [OVERRIDES...]` and `dlrun -m [OVERRIDES...]`: a run or a sweep. The command line
is prepared first (dlrun.cli.run_path: exit 2 on bad input, before any folder exists,
composing its config once); a single run then trains that config in the folder it claimed
(run_path.execute, exit 1 when it does not complete), a sweep hands it to its sweeper
(dlrun.cli.entry). Hydra's flags that run nothing (--cfg, --help, --info) go to Hydra's app
(dlrun.cli.app).
"""

from __future__ import annotations

import sys

from dlrun.base.errors import refusing_bad_input

HELP_HEADER_KEY = "hydra.help.header"
HEADER = "dlrun: a config-driven deep-learning experiment runner.\n"


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


def _single_run(prepared) -> int:
    """Train the prepared run: 0 when it completed, 1 when not; bad input found while it
    starts (a data file, a checkpoint) is printed in one line, exit 2."""
    from dlrun.base.errors import exiting_on_bad_input
    from dlrun.base.hydra_private import reporting_errors
    from dlrun.cli.run_path import execute

    def train() -> dict:
        with exiting_on_bad_input():
            return execute(prepared)

    summary = reporting_errors(train)
    return 0 if summary["status"] == "completed" else 1


@refusing_bad_input()
def main(args) -> int:
    return start(args)[0]


def start(args) -> tuple:
    """(exit status, the run folder this process claimed, or None: a sweep, --cfg, --help, a rank)."""
    from dlrun.base.hydra_private import reporting_errors
    from dlrun.base.secrets import hide_in_arguments
    from dlrun.cli.run_path import prepare

    args = hide_in_arguments(args)  # Hydra's app writes the command line into its files too
    prepared = prepare(args)
    line = prepared.checked.command_line
    if line.app_help:
        return _run_app(_with_usage(args)), None
    if line.hydra_only or line.show_cfg is not None:
        return _run_app(args), None
    try:
        if line.multirun:
            from dlrun.cli.entry import run_sweep

            reporting_errors(lambda: run_sweep(prepared.checked))
            return 0, None
        return _single_run(prepared), prepared.run_dir
    except KeyboardInterrupt as stop:
        return _stopped(stop), None
