"""Hyperparameter sweeps on Optuna, behind Hydra's multirun (`dlrun -m`): this package only
runs sweeps.

The Hydra glue (the sweeper plugin) lives in hydra_plugins/dlrun_sweeper; everything that
is not Hydra glue lives here: the search space (space), where the study lives (storage) and
the study itself (study), one worker's run (driver), its slots' ask / launch / tell loop
(loop), claiming exactly n_trials places among workers (claims), workers' heartbeats and
retries (workers), the study made to agree with the trial folders after a fault (reconcile),
one GPU per slot (devices), pruning inside a trial (pruning), the trials read back (trials)
and a narrower sweep around the best (refine). The sweep's table and plots
are outputs: dlrun.report.sweep_table.

Layer: above the run layer and the session (DESIGN: Layers). Imports: base, the domain
packages, config, training (a trial's pruning raises training.hooks.RunStopped); never
report or cli: the sweeper hands the driver its `summarize`.
"""
