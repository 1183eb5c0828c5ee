"""Multi-process training without letting Lightning re-run sys.argv.

The parent process plans the launch (plan.py), writes the resolved config into the run
folder and starts one rank per device with PyTorch's elastic launcher (launch.py) on the
worker entry point (worker.py), which runs the same `runner.execute` as a single run
(rank.py). Under SLURM every task is already a rank and goes straight to rank.py.
"""
