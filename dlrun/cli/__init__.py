"""The top layer: the `dlrun` command (main, one table of subcommands in cli/commands/),
the Hydra application (app) and `dlrun.run()` (api). It may import every layer; nothing
imports it.
"""
