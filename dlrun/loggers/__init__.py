"""Metric loggers beyond Lightning's CSV one (built by dlrun.trainer.build_loggers from cfg.logger)."""
