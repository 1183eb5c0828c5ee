"""Metric loggers (domain layer): one table of entries (dlrun.loggers.table: build, finish),
one module and one conf/logger YAML each. The run layer imports the table only; the table
loads a logger's module by name, so a run without W&B never imports it. Imports: dlrun.base,
the run folder's file modules (summary.json, metrics.csv), dlrun.distributed.env; never
config, training (beyond those files), sweeps, report or cli.
"""
