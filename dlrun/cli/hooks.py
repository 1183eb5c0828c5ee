"""What every run dlrun starts gets from the layers above the run layer (which names neither):
handed to dlrun.training.session.execute by each caller of the run path."""

from __future__ import annotations

from dlrun.training.hooks import RunHooks


def run_hooks() -> RunHooks:
    """What every run dlrun starts gets from the layers above the run layer (which names
    neither): a sweep trial's pruning (it does nothing outside a trial) and the run's plots."""
    from dlrun.report.curves import plot_run
    from dlrun.sweeps.pruning import pruning_callback

    return RunHooks(callbacks=(pruning_callback,), at_end=(plot_run,))
