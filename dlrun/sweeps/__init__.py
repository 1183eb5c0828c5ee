"""Hyperparameter sweeps on Optuna, behind Hydra's multirun (`dlrun -m`).

The Hydra glue (the sweeper plugin) lives in hydra_plugins/dlrun_sweeper; everything that
is not Hydra glue lives here: the search space (space), the study in the sweep folder
(study), the ask / launch / tell loop (loop), pruning inside a trial (pruning), and what
comes after (report, plots, refine, commands).
"""
