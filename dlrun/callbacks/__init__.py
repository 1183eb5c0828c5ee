"""Training callbacks (domain layer), one concern per module (averaging: EMA and SWA).
Each module's factory(cfg, run_dir) -> Callback or None (when off) is one line of
dlrun.training.trainer.CALLBACK_FACTORIES; knobs live in conf/callbacks/*.yaml; Lightning's
private API through dlrun.base.lightning_private. Imports: dlrun.base, dlrun.models,
dlrun.recipe; never config, training, sweeps, report or cli.
"""
