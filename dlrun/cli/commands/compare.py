"""`dlrun compare RUN_DIR... [out=DIR]`: runs (or sweep trials, or every trial of a sweep
folder) side by side: the config keys that differ, final / best / test metrics as a table,
and their curves overlaid in one figure (dlrun.report.compare). Exit 2 on a folder that is
no run or fewer than two runs."""

from __future__ import annotations

from dlrun.base.errors import BadInput, refusing_bad_input

USAGE = "usage: dlrun compare RUN_DIR RUN_DIR... [out=DIR]   (run folders, trial folders, or sweep folders)"


def _arguments(args) -> tuple:
    folders, out = [], None
    for arg in args:
        if arg.startswith("out="):
            out = arg.split("=", 1)[1]
            if not out:
                raise BadInput("out=: an empty folder; give out=DIR or leave it out")
        elif "=" in arg or arg.startswith("-"):
            raise BadInput(f"{arg}: unknown argument; {USAGE}")
        else:
            folders.append(arg)
    if not folders:
        raise BadInput(USAGE)
    return folders, out


@refusing_bad_input("compare")
def main(args) -> int:
    from dlrun.report.compare import compare, print_comparison

    folders, out = _arguments(args)
    print_comparison(compare(folders, out))
    return 0
