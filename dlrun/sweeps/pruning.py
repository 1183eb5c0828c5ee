"""Pruning inside a sweep trial: after every validation round the trial's process reports
the objective metric to the study in the sweep folder and asks the sweep's pruner
whether to go on. A pruned run raises `Pruned`; the runner records status `pruned` and
the sweeper tells the study.

Active only in a trial of dlrun's sweeper (it sets the study and the trial number in the
trial's environment, see dlrun.sweeps.study) with a pruner other than `none`. The run layer
does not know it: whoever starts a run hands `pruning_callback` in (dlrun.training.hooks).
"""

from __future__ import annotations

import math
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from dlrun.recipe.metrics import primary_objective
from dlrun.sweeps.study import trial_of_this_process
from dlrun.training.hooks import RunStopped


class Pruned(RunStopped):
    """The sweep's pruner stopped this trial; str() says when and at what value."""

    status = "pruned"


class SweepPruning(Callback):
    def __init__(self, trial, monitor: str, pruner: str):
        self.trial, self.monitor, self.pruner = trial, monitor, pruner
        self.rounds = 0  # validation rounds so far; round k is step k - 1 (Optuna counts steps from 0,
        # so the median pruner's n_warmup_steps=1 spares exactly the first round)

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        self.rounds += 1
        value = trainer.callback_metrics.get(self.monitor)
        value = float(value) if value is not None else math.nan
        prune = False
        if trainer.is_global_zero and math.isfinite(value):  # one process speaks to the study
            self.trial.report(value, step=self.rounds - 1)
            prune = self.trial.should_prune()
        prune = trainer.strategy.broadcast(prune, src=0)  # every rank stops together
        if prune:
            raise Pruned(f"pruned by the sweep's {self.pruner} pruner after validation round {self.rounds} "
                         f"(epoch {trainer.current_epoch}): {self.monitor}={value:.6g}")


def pruning_callback(cfg, run_dir: Path):
    found = trial_of_this_process()
    if found is None:
        return None
    trial, record = found
    pruner = record.get("pruner", {}).get("name", "none")
    return None if pruner == "none" else SweepPruning(trial, primary_objective(cfg.objective), pruner)
