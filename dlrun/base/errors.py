"""ConfigError: bad input that must not start a run (the CLI exits 2 with its lines). A leaf
module, so that the data loaders can raise it without importing dlrun.config.validate (which
imports them)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config that must not start a run; str() holds one line per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, corrupt, unsafe, or not fitting the model);
    the message names the file."""
