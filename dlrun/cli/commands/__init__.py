"""Subcommands that work on an existing run folder (`dlrun resume`, `dlrun eval`); the
table of subcommands is dlrun.cli.main.SUBCOMMANDS."""
