"""`dlrun report SWEEP_DIR... [out=DIR]`: a study's figures and Markdown page, from one
sweep or several compared (grid vs random search). Written to DIR (default:
FIRST_SWEEP_DIR/report/). Exit 2 on a bad command, a folder that is no sweep, or a bad
`study:` block."""

from __future__ import annotations

import sys

USAGE = "usage: dlrun report SWEEP_DIR [SWEEP_DIR...] [out=DIR]   (folders of `dlrun -m` sweeps)"


def _arguments(args) -> tuple:
    folders, out = [], None
    for arg in args:
        if arg.startswith("out="):
            out = arg.split("=", 1)[1] or None
        elif "=" in arg or arg.startswith("-"):
            raise ValueError(f"{arg}: unknown argument; {USAGE}")
        else:
            folders.append(arg)
    if not folders:
        raise ValueError(USAGE)
    return folders, out


def report_main(args) -> int:
    from dlrun.report.settings import ReportError
    from dlrun.report.study import print_report, write_report
    from dlrun.sweeps.study import NotASweep

    try:
        folders, out = _arguments(args)
        report = write_report(folders, out)
    except (ValueError, NotASweep, ReportError) as error:
        print(f"dlrun report: {error}", file=sys.stderr)
        return 2
    print_report(report)
    return 0
