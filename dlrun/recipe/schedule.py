"""Learning-rate schedules: one table, one factory, Lightning scheduler dicts out.

The scheduler is stepped once per `schedule.interval` (an optimizer step, or an epoch),
and every count in a schedule config (warmup_steps, step_size, milestones, tau, 1 / decay)
is in those units. Formula schedules are multipliers of the base lr, factor(cfg, t, horizon),
with t counted from the end of the warmup and horizon the scheduler steps left after it;
the run's total comes from the trainer, never from the config. A linear warmup,
lr * (t + 1) / warmup_steps, goes in front of any schedule, plateau included.
"""

from __future__ import annotations

import bisect
import math

from dlrun.recipe.metrics import direction
from dlrun.base.options import lookup


def constant(cfg, t, horizon):
    return 1.0


def step(cfg, t, horizon):
    return cfg["gamma"] ** (t // cfg["step_size"])


def multistep(cfg, t, horizon):
    return cfg["gamma"] ** bisect.bisect_right(sorted(cfg["milestones"]), t)


def exponential(cfg, t, horizon):
    return cfg["gamma"] ** t


def inverse_time(cfg, t, horizon):
    return 1.0 / (1.0 + cfg["decay"] * t)


def inverse_sqrt(cfg, t, horizon):
    return 1.0 / math.sqrt(1.0 + t / cfg["tau"])


def _cosine_between(start, end, progress):
    """start at progress 0, end at progress 1, along half a cosine."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def cosine(cfg, t, horizon):
    return _cosine_between(1.0, cfg["min_lr_ratio"], t / horizon)


def one_cycle(cfg, t, horizon):
    """Up from lr / div_factor to lr over pct_start of the run, then down to
    lr / (div_factor * final_div_factor), both along half cosines (Smith's 1cycle)."""
    start = 1.0 / cfg["div_factor"]
    peak = max(1.0, cfg["pct_start"] * horizon)
    if t < peak:
        return _cosine_between(start, 1.0, t / peak)
    return _cosine_between(1.0, start / cfg["final_div_factor"], (t - peak) / max(1.0, horizon - peak))


# name -> factor(cfg, t, horizon): the lr multiplier after warmup
FORMULAS = {
    "constant": constant,
    "step": step,
    "multistep": multistep,
    "exponential": exponential,
    "inverse_time": inverse_time,
    "inverse_sqrt": inverse_sqrt,
    "cosine": cosine,
    "one_cycle": one_cycle,
}


def lr_factor(cfg_schedule, t: int, total: int) -> float:
    """Multiplier of the base lr at scheduler step `t` (0-based) of `total`, warmup included."""
    warmup = cfg_schedule["warmup_steps"]
    if t < warmup:
        return (t + 1) / warmup
    formula = lookup(FORMULAS, "schedule", cfg_schedule["name"])
    return formula(cfg_schedule, t - warmup, max(1, total - warmup))


def _formula_schedulers(cfg_schedule, optimizer, total: int) -> list:
    from omegaconf import DictConfig, OmegaConf
    from torch.optim.lr_scheduler import LambdaLR

    if cfg_schedule["name"] == "constant" and cfg_schedule["warmup_steps"] == 0:
        return []  # nothing to schedule: no per-step scheduler call
    # the factor runs every step: plain values, not config nodes (each node read costs microseconds)
    plain = OmegaConf.to_container(cfg_schedule, resolve=True) if isinstance(cfg_schedule, DictConfig) else dict(cfg_schedule)
    scheduler = LambdaLR(optimizer, lambda t: lr_factor(plain, t, total))
    return [{"scheduler": scheduler, "interval": plain["interval"], "frequency": 1}]


def _plateau_schedulers(cfg_schedule, optimizer, total: int) -> list:
    """ReduceLROnPlateau on the monitored metric; Lightning passes the metric because the
    dict names it. The warmup is torch's LinearLR: it scales the current lr by ratios, so a
    reduction the plateau makes during warmup survives it."""
    from torch.optim.lr_scheduler import LinearLR, ReduceLROnPlateau

    schedulers = []
    warmup = cfg_schedule["warmup_steps"]
    if warmup > 1:  # with one step the first factor is already 1
        linear = LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1)
        schedulers.append({"scheduler": linear, "interval": cfg_schedule["interval"], "frequency": 1})
    monitor = cfg_schedule["monitor"]
    plateau = ReduceLROnPlateau(optimizer, mode=direction(monitor)[:3], factor=cfg_schedule["factor"],
                                patience=cfg_schedule["patience"], threshold=cfg_schedule["threshold"],
                                cooldown=cfg_schedule["cooldown"], min_lr=cfg_schedule["min_lr"])
    schedulers.append({"scheduler": plateau, "interval": cfg_schedule["interval"], "frequency": 1,
                       "monitor": monitor, "strict": True})
    return schedulers


# name -> builder(cfg, optimizer, total scheduler steps) -> [Lightning lr_scheduler dict]
SCHEDULES = {
    **{name: _formula_schedulers for name in FORMULAS},
    "plateau": _plateau_schedulers,  # reacts to a metric, not a formula of t
}


def scheduler_steps(trainer, interval: str) -> int:
    """How many times the scheduler will step in this run, from the trainer's own limits
    (max_epochs, max_steps, limit_train_batches, gradient accumulation)."""
    total_steps = int(trainer.estimated_stepping_batches)
    if interval == "step":
        return total_steps
    steps_per_epoch = max(1, math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches))
    return min(trainer.max_epochs, math.ceil(total_steps / steps_per_epoch))


def build_scheduler(cfg_schedule, optimizer, total: int) -> list:
    """Lightning lr_scheduler dicts for the optimizer; `total` counts scheduler steps."""
    return lookup(SCHEDULES, "schedule", cfg_schedule["name"])(cfg_schedule, optimizer, total)
