"""Hyperparameter sweeps on Optuna, behind Hydra's multirun (`dlrun -m`).

The Hydra glue (the sweeper plugin) lives in hydra_plugins/dlrun_sweeper; everything that
is not Hydra glue lives here: the search space (space), where the study lives (storage) and
the study itself (study), one worker's run (driver), its slots' ask / launch / tell loop
(loop), claiming exactly n_trials places among workers (claims), workers' heartbeats and
retries (workers), one GPU per slot (devices), pruning inside a trial (pruning), and what
comes after (report, plots, refine, commands).
"""
