"""Metric loggers: one table of entries (dlrun.loggers.table), one module and one conf/logger YAML each."""
