"""`dlrun summary SWEEP_DIR` and `dlrun refine SWEEP_DIR [top=K]`: a finished (or running)
sweep read back from the study in its folder. Exit 2 on a bad command or folder."""

from __future__ import annotations

import sys

SUMMARY_USAGE = "usage: dlrun summary SWEEP_DIR   (the folder of a `dlrun -m` sweep)"
REFINE_USAGE = "usage: dlrun refine SWEEP_DIR [top=K]   (K: how many of the best trials shape the new space)"


def _fail(command: str, message: str) -> int:
    print(f"dlrun {command}: {message}", file=sys.stderr)
    return 2


def _sweep_folder(args, usage: str, options=()):
    """(folder, {option: value}) or raise ValueError with the usage."""
    if not args or "=" in args[0] or args[0].startswith("-"):
        raise ValueError(usage)
    chosen = {}
    for arg in args[1:]:
        key, _, value = arg.partition("=")
        if key not in options or not value:
            raise ValueError(f"{arg}: unknown argument; {usage}")
        chosen[key] = value
    return args[0], chosen


def summary_main(args) -> int:
    from dlrun.report.sweep_table import summarize
    from dlrun.sweeps.study import NotASweep

    try:
        folder, _ = _sweep_folder(args, SUMMARY_USAGE)
        summarize(folder)
    except (ValueError, NotASweep) as error:
        return _fail("summary", str(error))
    return 0


def refine_main(args) -> int:
    try:  # the arguments first: a usage error needs no optuna
        folder, options = _sweep_folder(args, REFINE_USAGE, options=("top",))
        top = options.get("top")
        if top is not None and not (top.isdigit() and int(top) >= 1):
            raise ValueError(f"top={top}: expected an integer >= 1")
    except ValueError as error:
        return _fail("refine", str(error))
    from dlrun.sweeps.refine import RefineError, refine_command
    from dlrun.sweeps.study import NotASweep, load

    try:
        command = refine_command(load(folder), int(top) if top else None)
    except (ValueError, NotASweep, RefineError) as error:
        return _fail("refine", str(error))
    print(command)
    return 0
