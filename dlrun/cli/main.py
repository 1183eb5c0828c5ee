"""The `dlrun` command: one table of subcommands, each a small module of dlrun.cli.commands
imported only when it runs; any other command line is a run or a sweep (dlrun.cli.commands.train,
then Hydra's own CLI: overrides, -m, --cfg, --help). Each subcommand's `main(args)` returns its
exit status; bad input is printed, exit 2, by dlrun.base.errors.refusing_bad_input.

Nothing here imports torch or lightning: listing, showing and rejecting configs stay fast.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Subcommand:
    target: str  # "module:function", a main(args) -> exit status, imported when it runs
    arguments: str  # what follows `dlrun NAME` in the usage
    help: str  # one line


SUBCOMMANDS = {
    "ls": Subcommand("dlrun.cli.commands.listing:main", "[GROUP [OPTION]]",
                     "config groups, their options, an option's knobs (--config-dir DIR: yours too)"),
    "show": Subcommand("dlrun.cli.commands.config_check:show", "[OVERRIDES...]", "the composed, resolved config"),
    "validate": Subcommand("dlrun.cli.commands.config_check:validate", "[OVERRIDES...]",
                           "check a config without running it"),
    "resume": Subcommand("dlrun.cli.commands.resume:main", "RUN_DIR [OVERRIDES...]",
                         "continue a stopped run from its last checkpoint, in its folder"),
    "rerun": Subcommand("dlrun.cli.commands.rerun:main", "RUN_DIR [OVERRIDES...]",
                        "make a run again from its record (a new folder), then compare its metrics"),
    "eval": Subcommand("dlrun.cli.commands.evaluate:main", "RUN_DIR [ckpt=best|last|PATH] [OVERRIDES...]",
                       "test a run's checkpoint (data=... for other data of the same spec)"),
    "predict": Subcommand("dlrun.cli.commands.predict:main", "RUN_DIR INPUTS [out=FILE] [ckpt=best|last|PATH]",
                          "a run's model on new raw inputs (.npy/.npz/.csv, .txt for text): a CSV of predictions"),
    "compare": Subcommand("dlrun.cli.commands.compare:main", "RUN_DIR... [out=DIR]",
                          "runs side by side: the config keys that differ, their metrics, their curves overlaid"),
    "summary": Subcommand("dlrun.cli.commands.sweep_folder:summary_main", "SWEEP_DIR|RUN_DIR",
                          "a sweep's trials, plots and best trial's command; or a run's result and status"),
    "refine": Subcommand("dlrun.cli.commands.sweep_folder:refine_main", "SWEEP_DIR [top=K]",
                         "a narrower search space around the best trials, as a command"),
    "report": Subcommand("dlrun.cli.commands.report:report_main", "SWEEP_DIR... [out=DIR]",
                         "a study's overlaid curves, table and Markdown page (SWEEP_DIR/report/)"),
    "init": Subcommand("dlrun.cli.commands.init_project:main", "DIR",
                       "a project of your own: a model, a dataset, an experiment and a test"),
}
RUN = Subcommand("dlrun.cli.commands.train:main", "[OVERRIDES...]",
                 "train one experiment (Hydra overrides: optim=sgd optim.lr=0.1)")
SWEEP_HELP = "sweep (comma lists, or interval/choice search spaces)"
HELP_HELP = "Hydra's help: groups, the config, its flags"
HELP_WORDS = ("usage", "commands")  # `dlrun usage`: the lines below alone
SYNOPSIS_WIDTH = 32


def usage(only=None) -> str:
    """The usage lines, from the table: `dlrun --help` shows them above Hydra's own help;
    `dlrun NAME --help` shows subcommand NAME's line alone."""
    rows = [(f"dlrun {RUN.arguments}", RUN.help), (f"dlrun -m {RUN.arguments}", SWEEP_HELP)]
    rows += [(f"dlrun {name} {entry.arguments}", entry.help) for name, entry in SUBCOMMANDS.items()]
    rows.append(("dlrun --help", HELP_HELP))
    if only is not None:
        rows = [(f"dlrun {only} {SUBCOMMANDS[only].arguments}", SUBCOMMANDS[only].help)]
    lines = []
    for synopsis, text in rows:
        if len(synopsis) < SYNOPSIS_WIDTH - 1:
            lines.append(f"{synopsis:<{SYNOPSIS_WIDTH}}{text}")
        else:  # a long synopsis: its help on the next line, in the help column
            lines += [synopsis, " " * SYNOPSIS_WIDTH + text]
    return "usage: " + "\n       ".join(lines) + "\n"


def entry_point(subcommand: Subcommand):
    module, function = subcommand.target.split(":")
    return getattr(import_module(module), function)


SIGPIPE_STATUS = 141  # what a shell reports for `seq 1 9999 | head -1`'s seq: killed by SIGPIPE


def main(argv=None) -> None:
    """`dlrun ARGS`; output into a pipe that closed early (`dlrun --help | head -2`) ends it
    quietly, as coreutils do, instead of in a BrokenPipeError traceback."""
    try:
        _dispatch(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at devnull so that flush is silent too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(SIGPIPE_STATUS)


def _dispatch(args) -> None:
    sys.path.insert(0, os.getcwd())  # as `python -m dlrun` has it: `_target_: mycode.Net` finds ./mycode
    if args[:1] and args[0] in HELP_WORDS:
        print(usage(), end="")
        sys.exit(0)
    if args[:1] and args[0] in SUBCOMMANDS:
        if args[1:2] in (["-h"], ["--help"]):
            print(usage(only=args[0]), end="")
            sys.exit(0)
        sys.exit(entry_point(SUBCOMMANDS[args[0]])(args[1:]))
    sys.exit(entry_point(RUN)(args))
