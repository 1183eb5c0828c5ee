"""The shared part of the diagnostics callbacks: sampling every N optimizer steps,
sending the values to every logger of the run, keeping them for plots/diagnostics.png.

Values are named `{kind}/{layer}` (grad_norm/body.0, act_std/body.2, ...): a logger groups
them by kind, the plot draws one panel per kind and one line per layer. They go straight
to the loggers (logger.log_metrics), not through LightningModule.log: they appear on the
steps they were sampled, stay out of the progress bar, and never become an objective.
"""

from __future__ import annotations

import torch
from lightning.pytorch.callbacks import Callback

from dlrun.recipe.transfer import TASK_MODEL_PREFIX

# A TaskModule holds the network as `model`: drop that from names (body.0, not model.body.0).


def module_name(name: str) -> str:
    """`model.body.2` -> `body.2`."""
    return name.removeprefix(TASK_MODEL_PREFIX)


def layer_name(parameter_name: str) -> str:
    """`model.body.0.weight` -> `body.0`: the module that owns the tensor."""
    return module_name(parameter_name).rsplit(".", 1)[0]


class DiagnosticRecorder(Callback):
    def __init__(self, every_n_steps: int):
        self.every_n_steps = every_n_steps
        self.rows: list = []  # [(step, {name: value})]

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state):
        self.rows = [tuple(row) for row in state["rows"]]

    def sampled(self, trainer) -> bool:
        return trainer.global_step % self.every_n_steps == 0 and not trainer.sanity_checking

    def record(self, trainer, step: int, values: dict) -> None:
        """Log {name: scalar tensor} at `step` to every logger and keep it."""
        numbers = torch.stack([value.detach().float().reshape(()) for value in values.values()]).tolist()
        values = dict(zip(values, numbers))  # one host sync for all of them
        self.rows.append((step, values))
        for logger in trainer.loggers:
            logger.log_metrics(values, step=step)

    def series(self) -> dict:
        """{kind: {layer: [(step, value)]}} for plots."""
        panels: dict = {}
        for step, values in self.rows:
            for name, value in values.items():
                kind, _, layer = name.partition("/")
                panels.setdefault(kind, {}).setdefault(layer, []).append((step, value))
        return panels


def diagnostic_series(trainer) -> dict:
    """Every diagnostics callback's series of this trainer, merged."""
    panels: dict = {}
    for callback in trainer.callbacks:
        if isinstance(callback, DiagnosticRecorder):
            panels.update(callback.series())
    return panels
