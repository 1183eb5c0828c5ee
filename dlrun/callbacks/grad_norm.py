"""Gradient norms, global and per layer, on the sampled steps: `grad_norm/total` and
`grad_norm/<layer>` (the L2 norm over a layer's weight and bias gradients together),
measured before clipping and before gradient noise (the factories' order)."""

from __future__ import annotations

import torch

from dlrun.callbacks.recorder import DiagnosticRecorder, layer_name


def layer_norms(named_tensors) -> dict:
    """{layer: L2 norm} over the tensors of each layer, plus `total` over all of them."""
    named = [(layer_name(name), tensor) for name, tensor in named_tensors]
    if not named:
        return {}
    norms = torch._foreach_norm([tensor for _, tensor in named])
    squares: dict = {}
    for (layer, _), norm in zip(named, norms):
        squares[layer] = squares.get(layer, 0.0) + norm.square()
    result = {layer: total.sqrt() for layer, total in squares.items()}
    result["total"] = torch.stack(list(squares.values())).sum().sqrt()
    return result


class GradientNorms(DiagnosticRecorder):
    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if not self.sampled(trainer):
            return
        gradients = [(name, p.grad.detach()) for name, p in pl_module.named_parameters() if p.grad is not None]
        norms = layer_norms(gradients)
        self.record(trainer, trainer.global_step, {f"grad_norm/{layer}": norm for layer, norm in norms.items()})


def grad_norm_callback(cfg, run_dir):
    settings = cfg.callbacks.diagnostics
    return GradientNorms(settings.every_n_steps) if settings.grad_norm else None
