"""SWA (Izmailov et al. 2018): the equal-weight mean of the weights visited after a start
point, taken once per epoch (classic SWA, at the epoch's last batch so that the epoch's
validation already sees it) or every N optimizer steps.

The start is a fraction of the planned optimizer steps (the trainer's estimate, so it
follows max_epochs / max_steps / limit_train_batches). BatchNorm statistics are averaged
with the weights rather than recomputed.
"""

from __future__ import annotations

import math

from dlrun.callbacks.averaging import WeightAverage


class StochasticWeightAverage(WeightAverage):
    def __init__(self, settings):
        super().__init__()
        self.start_fraction, self.every_n_steps = settings.start_fraction, settings.every_n_steps

    def start_step(self, trainer) -> int:
        return math.floor(self.start_fraction * trainer.estimated_stepping_batches)

    def _due(self, trainer, batch_idx: int) -> bool:
        if trainer.global_step < max(1, self.start_step(trainer)):
            return False
        if self.every_n_steps == 0:
            return batch_idx + 1 == trainer.num_training_batches
        return trainer.global_step % self.every_n_steps == 0

    def _weight(self) -> float:
        return 1.0 / (self.count + 1)  # running mean of count + 1 snapshots
