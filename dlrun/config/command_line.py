"""Hydra's command-line flags (--config-dir, -cp, -cn, -m, --cfg, ...) read with Hydra's own
argument parser, so that `dlrun`, `dlrun ls/show/validate` and the Hydra app agree on
what a command line means. Importing this module imports neither torch nor Hydra."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from dlrun.config.compose import ConfigSource
from dlrun.base.errors import ConfigError


@dataclass(frozen=True)
class CommandLine:
    overrides: list = field(default_factory=list)
    source: ConfigSource = ConfigSource()
    multirun: bool = False
    show_cfg: Optional[str] = None  # --cfg job|hydra|all: print, do not run
    # --help, --hydra-help, --info, --shell-completion, --experimental-rerun: Hydra's own
    # business, nothing of the experiment is composed or run
    hydra_only: bool = False
    app_help: bool = False  # --help: Hydra's help for the app (dlrun puts its usage lines on top)


def _parser():
    from dlrun.base.hydra_private import args_parser

    parser = args_parser()

    def refuse(message: str):  # argparse would print its usage and exit; one line instead
        raise ConfigError([f"{message} (dlrun --help lists the flags)"])

    parser.error = refuse
    return parser


def read_command_line(args) -> CommandLine:
    """The overrides and flags of `args`; ConfigError for a flag Hydra does not take."""
    parsed = _parser().parse_args(list(args))
    source = ConfigSource(config_path=parsed.config_path, config_name=parsed.config_name or "config",
                          extra_dir=parsed.config_dir)
    hydra_only = bool(parsed.help or parsed.hydra_help or parsed.info or parsed.shell_completion
                      or parsed.experimental_rerun)
    return CommandLine(overrides=list(parsed.overrides), source=source, multirun=parsed.multirun,
                       show_cfg=parsed.cfg, hydra_only=hydra_only, app_help=bool(parsed.help))
