"""Several processes train one run, without letting Lightning re-run sys.argv.

The parent process plans the launch (plan.py), writes the resolved config into the run
folder and starts one rank per device with PyTorch's elastic launcher (launch.py) on the
rank entry point (rank.py), which runs the same `runner.execute` as a single run. Under
SLURM every task is already a rank and goes straight to rank.py.

Two layers live here (DESIGN: Layers). env, strategies, callbacks and records are parts the
run layer builds its Trainer and loggers from (domain layer: they import dlrun.base only).
plan, launch and rank sit above the run layer: ranks call it (dlrun.training.runner), and the
session (dlrun.training.session) calls them. Nothing here imports sweeps, report or cli.
"""
