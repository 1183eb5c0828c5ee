"""The arguments of the commands that read several folders and write to one
(`dlrun compare|report FOLDER... [out=DIR]`)."""

from __future__ import annotations

from dlrun.base.errors import BadInput


def folders_and_out(args, usage: str) -> tuple:
    """(the folders named, out=DIR or None); BadInput in one line for an empty out=, an unknown
    argument, or no folder."""
    folders, out = [], None
    for arg in args:
        if arg.startswith("out="):
            out = arg.split("=", 1)[1]
            if not out:
                raise BadInput("out=: an empty folder; give out=DIR or leave it out")
        elif "=" in arg or arg.startswith("-"):
            raise BadInput(f"{arg}: unknown argument; {usage}")
        else:
            folders.append(arg)
    if not folders:
        raise BadInput(usage)
    return folders, out
