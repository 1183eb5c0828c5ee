"""`dlrun compare RUN_DIR... [out=DIR]`: runs (or sweep trials, or every trial of a sweep
folder) side by side: the config keys that differ, final / best / test metrics as a table,
and their curves overlaid in one figure (dlrun.report.compare). Exit 2 on a folder that is
no run or fewer than two runs."""

from __future__ import annotations

from dlrun.base.errors import refusing_bad_input
from dlrun.cli.commands.folder_args import folders_and_out

USAGE = "usage: dlrun compare RUN_DIR RUN_DIR... [out=DIR]   (run folders, trial folders, or sweep folders)"


@refusing_bad_input("compare")
def main(args) -> int:
    from dlrun.report.compare import compare, print_comparison

    folders, out = folders_and_out(args, USAGE)
    print_comparison(compare(folders, out))
    return 0
