"""The `dlrun` subcommands, one small module each (`main(args) -> exit status`, bad input
raised as dlrun.base.errors.BadInput and printed by refusing_bad_input); the table that
names them is dlrun.cli.main.SUBCOMMANDS. train.py is the command line without one: a run
or a sweep."""
