"""Bad input: whatever must not start anything (a config, a command line, a folder, a
checkpoint file) raises one BadInput, one line per problem, and one printer turns it into
those lines on stderr and exit status 2. A leaf module (standard library only), so that any
layer can raise it: the data loaders without importing dlrun.config.validate (which imports
them), the sweep and report layers alike."""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager

EXIT_BAD_INPUT = 2


class BadInput(ValueError):
    """Input that must not start anything; `problems` holds one line each (str() joins them).
    `kind` heads the printed lines (`dlrun: config error:`); a subclass without one speaks
    for itself (`dlrun summary: FOLDER: no study.journal ...`)."""

    kind = ""

    def __init__(self, problems):
        self.problems = [problems] if isinstance(problems, str) else [str(problem) for problem in problems]
        super().__init__("\n".join(self.problems))

    def __reduce__(self):  # across processes (joblib, submitit) with its lines kept apart
        return type(self), (self.problems,)


class ConfigError(BadInput):
    """A config that must not start a run: `key=value: what is allowed`, one line each."""

    kind = "config error"


class CheckpointError(BadInput):
    """A checkpoint that cannot be used (missing, corrupt, unsafe, or not fitting the model);
    the message names the file."""


def print_bad_input(error: BadInput, command: str = "") -> int:
    """The one printer: `dlrun[ COMMAND]: [KIND:]` and the problems, on stderr; the exit status."""
    head = "dlrun" + (f" {command}" if command else "") + ":"
    if error.kind:
        print(f"{head} {error.kind}:\n  " + "\n  ".join(error.problems), file=sys.stderr)
    else:
        print(f"{head} " + "\n  ".join(error.problems), file=sys.stderr)
    return EXIT_BAD_INPUT


def refusing_bad_input(command: str = ""):
    """A subcommand's `main(args) -> exit status`, with bad input printed and 2 returned."""

    def wrap(main):
        @functools.wraps(main)
        def refusing(*args, **kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except BadInput as error:
                return print_bad_input(error, command)

        return refusing

    return wrap


@contextmanager
def exiting_on_bad_input(command: str = ""):
    """Inside Hydra's app or sweeper: bad input printed, then SystemExit(2). Hydra reports any
    Exception itself (a traceback or one line, exit 1) but lets SystemExit through."""
    try:
        yield
    except BadInput as error:
        raise SystemExit(print_bad_input(error, command)) from None


# A message stays one line: a value longer than this is cut in the middle.
LONGEST_SHOWN = 240


def shown(value) -> str:
    """A value as a message shows it: long ones cut in the middle, so a message stays one line."""
    text = str(value)
    if len(text) <= LONGEST_SHOWN:
        return text
    return f"{text[:40]}...{text[-20:]} ({len(text)} characters)"
