"""`dlrun report SWEEP_DIR... [out=DIR]`: a study's figures and Markdown page, from one
sweep or several compared (grid vs random search). Written to DIR (default:
FIRST_SWEEP_DIR/report/). Exit 2 on a bad command, a folder that is no sweep, or a bad
`study:` block."""

from __future__ import annotations

import sys

from dlrun.base.errors import BadInput, refusing_bad_input

USAGE = "usage: dlrun report SWEEP_DIR [SWEEP_DIR...] [out=DIR]   (folders of `dlrun -m` sweeps)"


def _arguments(args) -> tuple:
    folders, out = [], None
    for arg in args:
        if arg.startswith("out="):
            out = arg.split("=", 1)[1] or None
        elif "=" in arg or arg.startswith("-"):
            raise BadInput(f"{arg}: unknown argument; {USAGE}")
        else:
            folders.append(arg)
    if not folders:
        raise BadInput(USAGE)
    return folders, out


@refusing_bad_input("report")
def report_main(args) -> int:
    from dlrun.report.study import print_report, write_report

    folders, out = _arguments(args)
    print_report(write_report(folders, out))
    return 0
