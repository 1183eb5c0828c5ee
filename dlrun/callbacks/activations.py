"""Per-layer activation statistics on the sampled steps: `act_mean/<layer>`,
`act_std/<layer>` and `act_dead/<layer>` for the output of every activation module (the
ones in the activation table: ReLU, Tanh, GELU, ...).

Forward hooks are registered at the start of a sampled training batch and removed at its
end, so the other steps run hook-free. A unit is a feature (the last dimension; the
channel for 4-d image tensors); it is dead when its output does not vary over the batch
(max - min <= 1e-6): a ReLU that no input switches on, a saturated tanh or sigmoid, or a
signal that has vanished.
"""

from __future__ import annotations

import logging

import torch

from dlrun.callbacks.recorder import DiagnosticRecorder, module_name
from dlrun.models.zoo import ACTIVATIONS
from dlrun.base.options import load_object

log = logging.getLogger("dlrun")
DEAD_RANGE = 1e-6


def activation_types() -> tuple:
    return tuple({load_object(path) for path in ACTIVATIONS.values()})


def unit_view(output: torch.Tensor) -> torch.Tensor:
    """(samples, units): channels are the units of an image tensor, features otherwise."""
    if output.dim() == 4:  # (N, C, H, W)
        return output.transpose(0, 1).flatten(1).T
    return output.reshape(-1, output.shape[-1])


def activation_stats(output: torch.Tensor) -> tuple:
    """(mean, std, dead fraction) as tensors; no host sync here."""
    units = unit_view(output.detach().float())
    spread = units.amax(0) - units.amin(0)
    return units.mean(), units.std(), (spread <= DEAD_RANGE).float().mean()


class ActivationStats(DiagnosticRecorder):
    def __init__(self, every_n_steps: int):
        super().__init__(every_n_steps)
        self._hooks, self._stats, self._step, self._warned = [], {}, None, False

    def _layers(self, pl_module) -> list:
        kinds = activation_types()
        found = [(module_name(name), module) for name, module in pl_module.named_modules()
                 if isinstance(module, kinds)]
        if not found and not self._warned:
            self._warned = True
            log.warning("diagnostics.activations: the model has no activation modules (%s) to watch",
                        ", ".join(ACTIVATIONS))
        return found

    def _hook(self, layer: str):
        def hook(module, inputs, output):
            if torch.is_tensor(output) and output.numel():
                self._stats[layer] = activation_stats(output)
        return hook

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.sampled(trainer):
            self._step, self._stats = trainer.global_step, {}
            self._hooks = [module.register_forward_hook(self._hook(layer)) for layer, module in self._layers(pl_module)]

    def _remove_hooks(self):
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not self._hooks:
            return
        self._remove_hooks()
        values = {}
        for layer, (mean, std, dead) in self._stats.items():
            values.update({f"act_mean/{layer}": mean, f"act_std/{layer}": std, f"act_dead/{layer}": dead})
        if values:
            self.record(trainer, self._step, values)

    def on_exception(self, trainer, pl_module, exception):
        self._remove_hooks()


def activations_callback(cfg, run_dir):
    settings = cfg.callbacks.diagnostics
    return ActivationStats(settings.every_n_steps) if settings.activations else None
