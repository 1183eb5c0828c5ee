"""EMA of the weights: average <- decay * average + (1 - decay) * weights, every N steps.

With `warmup` the decay after n updates is min(decay, (1 + n) / (10 + n)) (as in
TensorFlow's ExponentialMovingAverage with num_updates): early on the average follows the
weights closely, so the random initialisation does not linger in it for ~1/(1-decay) steps.
"""

from __future__ import annotations

from dlrun.callbacks.averaging import WeightAverage


class ExponentialMovingAverage(WeightAverage):
    def __init__(self, settings):
        super().__init__()
        self.decay, self.warmup, self.every_n_steps = settings.decay, settings.warmup, settings.every_n_steps

    def _due(self, trainer, batch_idx: int) -> bool:
        return trainer.global_step % self.every_n_steps == 0

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.count) / (10 + self.count))

    def _weight(self) -> float:
        return 1.0 - self.current_decay()
