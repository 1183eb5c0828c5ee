"""Training callbacks, one per module. Each module's factory(cfg, run_dir) -> Callback or
None (when off) is one line of dlrun.training.trainer.CALLBACK_FACTORIES; knobs live in
conf/callbacks/*.yaml."""
