"""Learning-rate schedules as multipliers of the base lr, stepped once per optimizer step.

Each table entry is factor(cfg, t, horizon) with t the step after warmup and horizon the
number of steps after warmup; the run's total steps come from the trainer, never the config.
A linear warmup of `warmup_steps` goes in front of any schedule: lr * (t + 1) / warmup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dlrun.registry import lookup


@dataclass(frozen=True)
class Horizon:
    total_steps: int
    steps_per_epoch: int


def constant(cfg, t, horizon):
    return 1.0


def step(cfg, t, horizon):
    return cfg["gamma"] ** (t // (cfg["step_size"] * horizon.steps_per_epoch))


def cosine(cfg, t, horizon):
    progress = min(t / max(1, horizon.total_steps), 1.0)
    floor = cfg["min_lr_ratio"]
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


SCHEDULES = {
    "constant": constant,
    "step": step,
    "cosine": cosine,
}


def lr_factor(cfg_schedule, step_index: int, horizon: Horizon) -> float:
    """Multiplier of the base lr at optimizer step `step_index` (0-based)."""
    schedule = lookup(SCHEDULES, "schedule", cfg_schedule["name"])
    warmup = cfg_schedule.get("warmup_steps", 0)
    if step_index < warmup:
        return (step_index + 1) / warmup
    after = Horizon(max(1, horizon.total_steps - warmup), horizon.steps_per_epoch)
    return schedule(cfg_schedule, step_index - warmup, after)


def build_scheduler(cfg_schedule, optimizer, horizon: Horizon) -> dict:
    """Lightning's lr_scheduler dict: a LambdaLR stepped every optimizer step."""
    from torch.optim.lr_scheduler import LambdaLR

    lookup(SCHEDULES, "schedule", cfg_schedule["name"])  # fail before training on a bad name
    scheduler = LambdaLR(optimizer, lambda t: lr_factor(cfg_schedule, t, horizon))
    return {"scheduler": scheduler, "interval": "step", "frequency": 1}
