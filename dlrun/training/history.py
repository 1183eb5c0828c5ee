"""MetricHistory: the run's curves kept in memory (train every log interval, val every
validation), for the summary's best metrics and the plots, whichever loggers are on."""

from __future__ import annotations

import math

from lightning.pytorch.callbacks import Callback

from dlrun.recipe.metrics import direction


def _as_float(value) -> float:
    return float(value.item() if hasattr(value, "item") else value)


class MetricHistory(Callback):
    def __init__(self, every_n_steps: int):
        self.every_n_steps = every_n_steps
        self.rows: list[dict] = []  # {"step": int, "epoch": int, name: value, ...}

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state):
        self.rows = list(state.get("rows", []))

    def _record(self, trainer, prefix: str):
        values = {name: _as_float(value) for name, value in trainer.callback_metrics.items()
                  if name.startswith(prefix) and not name.endswith("_epoch")}
        if values:
            self.rows.append({"step": trainer.global_step, "epoch": trainer.current_epoch, **values})

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # only every N steps: reading a metric forces a device sync on a GPU
        if trainer.global_step % self.every_n_steps == 0:
            self._record(trainer, ("train/", "lr"))

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._record(trainer, "val/")

    def series(self, name: str) -> list:
        """[(step, value)] for one metric, in the order recorded."""
        return [(row["step"], row[name]) for row in self.rows if name in row]

    def best(self, name: str):
        """(value, step) of the best finite value of `name`, or (None, None)."""
        points = [(value, step) for step, value in self.series(name) if math.isfinite(value)]
        if not points:
            return None, None
        pick = max if direction(name) == "maximize" else min
        return pick(points, key=lambda point: point[0])

    def metric_names(self) -> list:
        return sorted({key for row in self.rows for key in row if key not in ("step", "epoch")})
