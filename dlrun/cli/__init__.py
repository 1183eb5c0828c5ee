"""The top layer: the `dlrun` command (main, one table of subcommands in cli/commands/),
the run path (run_path: prepare = compose once, validate once, claim the folder; execute
through Hydra's job runner into dlrun.training.session.execute), the Hydra application (app),
`dlrun.run()` (api) and what every run gets from the layers above the run layer (hooks). It
may import every layer; nothing imports it.
"""
