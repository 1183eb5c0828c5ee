"""`dlrun report SWEEP_DIR... [out=DIR]`: a study's figures and Markdown page, from one
sweep or several compared (grid vs random search). Written to DIR (default:
FIRST_SWEEP_DIR/report/). Exit 2 on a bad command, a folder that is no sweep, or a bad
`study:` block."""

from __future__ import annotations

import os

from dlrun.base.errors import BadInput, refusing_bad_input
from dlrun.cli.commands.folder_args import folders_and_out

USAGE = "usage: dlrun report SWEEP_DIR [SWEEP_DIR...] [out=DIR]   (folders of `dlrun -m` sweeps)"


def _writable_out(out):
    """out=DIR as a folder the report can be written to (created here), or BadInput in one line."""
    if out is None:
        return None
    from pathlib import Path

    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"out={out}: cannot create the report folder ({error.strerror or error}); "
                       "choose a writable place") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BadInput(f"out={out}: the folder is not writable; choose a writable place")
    return out


@refusing_bad_input("report")
def report_main(args) -> int:
    from dlrun.report.study import print_report, write_report

    from dlrun.cli.commands.sweep_folder import readable_journal

    folders, out = folders_and_out(args, USAGE)
    for folder in folders:
        readable_journal(folder)
    print_report(write_report(folders, _writable_out(out)))
    return 0
