"""The run layer: one process trains one run from a validated config. Task (the one
LightningModule), Trainer building, the runner (data -> model -> fit -> test), the run
folder (claim, summary.json, metrics.csv, checkpoints, run.log) and the console.
Imports: dlrun.base, dlrun.config, the domain packages (models, data, recipe, callbacks,
loggers' table) and dlrun.distributed; never sweeps, report, cli or a specific tracker:
what a caller above wants added to a run (a sweep's pruning, plots) it hands in.
"""
