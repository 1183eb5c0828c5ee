"""The run layer: one process trains one run from a validated config. Task (the one
LightningModule), Trainer building, the runner (data -> model -> fit -> test), the run
folder (claim, summary.json, metrics.csv, checkpoints, run.log) and the console.
Imports: dlrun.base, dlrun.config, the domain packages (models, data, recipe, callbacks,
loggers' table, distributed's env / strategies / callbacks); never sweeps, population,
report, cli or a specific tracker: what a caller above wants added to a run (a sweep's
pruning, plots) it hands in (hooks). Two modules sit elsewhere in the layering (DESIGN:
Layers): session is above dlrun.distributed (its execute(Run) is where every run starts:
record, folder owner, console; it picks single process, launch or rank), run_files writes a
run's files for single runs and population members alike, and
summary, metrics_file, checkpoint_files and record (the run folder's files; record.json says
how to make the run again) are below the domain packages, which read them.
"""
