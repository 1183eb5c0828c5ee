"""`dlrun ls [GROUP [OPTION]] [--config-dir DIR] [-cp PATH] [-cn NAME]`: the config groups,
their options (yours from --config-dir marked) and each option's first comment line; with
OPTION, its knobs: each one's default, what it allows and what it does (from the knobs'
declarations)."""

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


def _knob_table(line, group: str, option: str):
    """The option's knobs: the composed defaults beside their declarations."""
    from omegaconf import OmegaConf
    from rich.markup import escape
    from rich.table import Table

    from dlrun.config.catalogue import knob_rows
    from dlrun.config.compose import compose

    cfg = OmegaConf.to_container(compose([f"{group}={option}"], source=line.source), resolve=True)
    table = Table(show_header=True, header_style="bold")
    for column in ("knob", "default", "allowed", "meaning"):
        table.add_column(column)
    for key, default, allowed, meaning in knob_rows(group, cfg):
        table.add_row(*(escape(cell) for cell in (key, _yaml_value(default), allowed, meaning)))
    return table


def _yaml_value(value) -> str:
    """A default as its YAML reads (null, true), on one line."""
    import yaml

    if value == "???":
        return "??? (required)"

    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


@refusing_bad_input()
def main(args) -> int:
    from rich.console import Console

    from dlrun.base.options import unknown_name_message
    from dlrun.config.catalogue import default_choices, sourced_groups

    line = read_command_line(args)
    problems = line.source.problems()
    if problems:
        raise ConfigError(problems)
    folders = line.source.folders()
    catalogue = sourced_groups(folders)
    wanted, option = (line.overrides + [None, None])[:2]
    if wanted and wanted not in catalogue:
        raise ConfigError([f"ls {wanted}: no such group; groups: {', '.join(catalogue)}"])
    if option and option not in catalogue[wanted]:
        raise ConfigError([f"ls {wanted} {option}: {unknown_name_message(wanted, option, catalogue[wanted])}"])
    console = Console(width=200 if not sys.stdout.isatty() else None)
    if option:
        console.print(_knob_table(line, wanted, option))
        return 0
    defaults = default_choices(folders[0], line.source.config_name)
    console.print(_table(catalogue, defaults, wanted, user_folders=folders[1:]))
    return 0
