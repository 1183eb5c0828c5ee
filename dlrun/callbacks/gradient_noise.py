"""Gradient noise with decaying variance (Neelakantan et al. 2015, "Adding gradient noise
improves learning for very deep networks"): before each optimizer step every gradient
gets N(0, sigma_t^2) added, sigma_t^2 = eta / (1 + t)^gamma, t the optimizer step.

It runs before gradient clipping (Lightning clips after this hook), as in the paper. The
noise comes from torch's global generator: seeded by the run's seed, and restored on
resume with the other random states (dlrun.callbacks.resumable).
"""

from __future__ import annotations

import math

import torch
from lightning.pytorch.callbacks import Callback


def noise_std(eta: float, gamma: float, step: int) -> float:
    return math.sqrt(eta / (1 + step) ** gamma)


class GradientNoise(Callback):
    def __init__(self, eta: float, gamma: float):
        self.eta, self.gamma = eta, gamma

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        std = noise_std(self.eta, self.gamma, trainer.global_step)
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    parameter.grad.add_(torch.randn_like(parameter.grad), alpha=std)


def gradient_noise_callback(cfg, run_dir):
    settings = cfg.callbacks.gradient_noise
    return GradientNoise(settings.eta, settings.gamma) if settings.enabled else None
