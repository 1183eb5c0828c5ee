"""`dlrun ls [GROUP] [--config-dir DIR] [-cp PATH] [-cn NAME]`: the config groups, their
options (yours from --config-dir marked) and each option's first comment line."""

from __future__ import annotations

import sys

from dlrun.config.command_line import read_command_line
from dlrun.base.errors import ConfigError, refusing_bad_input


def _table(catalogue: dict, defaults: dict, wanted, user_folders):
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for column in ("group", "option", "description") + (("from",) if user_folders else ()):
        table.add_column(column)
    for group, options in catalogue.items():
        if wanted and group != wanted:
            continue
        for option, (text, folder) in options.items():
            marker = " (default)" if defaults.get(group) == option else ""
            origin = str(folder) if folder in user_folders else "dlrun"
            table.add_row(group, option + marker, text, *([origin] if user_folders else []))
    return table


@refusing_bad_input()
def main(args) -> int:
    from rich.console import Console

    from dlrun.config.catalogue import default_choices, sourced_groups

    line = read_command_line(args)
    problems = line.source.problems()
    if problems:
        raise ConfigError(problems)
    folders = line.source.folders()
    catalogue = sourced_groups(folders)
    wanted = line.overrides[0] if line.overrides else None
    if wanted and wanted not in catalogue:
        raise ConfigError([f"ls {wanted}: no such group; groups: {', '.join(catalogue)}"])
    defaults = default_choices(folders[0], line.source.config_name)
    table = _table(catalogue, defaults, wanted, user_folders=folders[1:])
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return 0
