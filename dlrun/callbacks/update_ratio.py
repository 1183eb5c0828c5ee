"""Per-layer update / weight ratio, |W_after - W_before| / |W_before| over a layer's
weight matrices (tensors with two or more dimensions), on the sampled steps:
`update_ratio/<layer>`. Around 1e-3 is healthy; far below, the layer barely learns; far
above, the step is too big for it. The weights are copied only on sampled steps."""

from __future__ import annotations

import torch

from dlrun.callbacks.recorder import DiagnosticRecorder, layer_name


class UpdateRatios(DiagnosticRecorder):
    def __init__(self, every_n_steps: int):
        super().__init__(every_n_steps)
        self._before = None  # (step, [(layer, weight, copy before the step)])

    def _weights(self, pl_module) -> list:
        return [(layer_name(name), p) for name, p in pl_module.named_parameters()
                if p.requires_grad and p.dim() >= 2]

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if self.sampled(trainer):
            self._before = (trainer.global_step,
                            [(layer, p, p.detach().clone()) for layer, p in self._weights(pl_module)])

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._before is None:
            return
        step, weights = self._before
        self._before = None
        updates, sizes = {}, {}
        for layer, after, before in weights:
            updates[layer] = updates.get(layer, 0.0) + (after - before).square().sum()
            sizes[layer] = sizes.get(layer, 0.0) + before.square().sum()
        ratios = {f"update_ratio/{layer}": (updates[layer] / sizes[layer].clamp_min(1e-30)).sqrt() for layer in updates}
        self.record(trainer, step, ratios)


def update_ratio_callback(cfg, run_dir):
    settings = cfg.callbacks.diagnostics
    return UpdateRatios(settings.every_n_steps) if settings.update_ratio else None
