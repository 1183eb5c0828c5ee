"""Learning-rate schedules: one table, one factory, Lightning scheduler dicts out.

The scheduler is stepped once per `schedule.interval` (an optimizer step, or an epoch),
and every count in a schedule config (warmup_steps, step_size, milestones, tau, 1 / decay)
is in those units. Formula schedules are multipliers of the base lr, factor(cfg, t, horizon),
with t counted from the end of the warmup and horizon the scheduler steps left after it;
the run's total comes from the trainer, never from the config. A linear warmup,
lr * (t + 1) / warmup_steps, goes in front of any schedule, plateau included.
Each schedule declares its knobs once in SCHEDULES (defaults in conf/schedule/NAME.yaml):
adding one is a formula (or a builder) here, its entry and its YAML.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass

from dlrun.base.options import Constraint, Group, Knob, Option, load_object, lookup
from dlrun.base.rules import MILESTONES, Rule, integer, number, one_of
from dlrun.recipe.metrics import all_metric_names, direction, primary_objective


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


def lr_factor(cfg_schedule, t: int, total: int) -> float:
    """Multiplier of the base lr at scheduler step `t` (0-based) of `total`, warmup included."""
    warmup = cfg_schedule["warmup_steps"]
    if t < warmup:
        return (t + 1) / warmup
    formula = _factor_function(cfg_schedule["name"])
    return formula(cfg_schedule, t - warmup, max(1, total - warmup))


@functools.lru_cache(maxsize=None)
def _factor_function(name: str):
    """The factor function of a formula schedule (resolved once: lr_factor runs every step)."""
    entry = lookup(SCHEDULES, "schedule", name)
    if not entry.formula:
        raise ValueError(f"schedule={name} has no formula of t: it reacts to a metric")
    return load_object(entry.impl)


def formula_schedulers(cfg_schedule, optimizer, total: int) -> list:
    from omegaconf import DictConfig, OmegaConf
    from torch.optim.lr_scheduler import LambdaLR

    if cfg_schedule["name"] == "constant" and cfg_schedule["warmup_steps"] == 0:
        return []  # nothing to schedule: no per-step scheduler call
    # the factor runs every step: plain values, not config nodes (each node read costs microseconds)
    plain = OmegaConf.to_container(cfg_schedule, resolve=True) if isinstance(cfg_schedule, DictConfig) else dict(cfg_schedule)
    scheduler = LambdaLR(optimizer, lambda t: lr_factor(plain, t, total))
    return [{"scheduler": scheduler, "interval": plain["interval"], "frequency": 1}]


def plateau_schedulers(cfg_schedule, optimizer, total: int) -> list:
    """ReduceLROnPlateau on the monitored metric; Lightning passes the metric because the
    dict names it. The warmup is torch's LinearLR: it scales the current lr by ratios, so a
    reduction the plateau makes during warmup survives it."""
    from torch.optim.lr_scheduler import LinearLR, ReduceLROnPlateau

    schedulers = []
    warmup = cfg_schedule["warmup_steps"]
    if warmup > 1:  # with one step the first factor is already 1
        linear = LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1)
        schedulers.append({"scheduler": linear, "interval": cfg_schedule["interval"], "frequency": 1})
    monitor = primary_objective(cfg_schedule["monitor"])  # ${objective}: a multi-objective run's list
    plateau = ReduceLROnPlateau(optimizer, mode=direction(monitor)[:3], factor=cfg_schedule["factor"],
                                patience=cfg_schedule["patience"], threshold=cfg_schedule["threshold"],
                                cooldown=cfg_schedule["cooldown"], min_lr=cfg_schedule["min_lr"])
    schedulers.append({"scheduler": plateau, "interval": cfg_schedule["interval"], "frequency": 1,
                       "monitor": monitor, "strict": True})
    return schedulers


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
    entry = lookup(SCHEDULES, "schedule", cfg_schedule["name"])
    build = formula_schedulers if entry.formula else load_object(entry.impl)
    return build(cfg_schedule, optimizer, total)


@dataclass(frozen=True, kw_only=True)
class ScheduleOption(Option):
    # True: impl is factor(cfg, t, horizon), the lr multiplier after warmup; False: impl is
    # builder(cfg, optimizer, total scheduler steps) -> [Lightning lr_scheduler dict]
    formula: bool = True


def _formula_option(impl: str, *knobs: str) -> ScheduleOption:
    return ScheduleOption(impl=f"dlrun.recipe.schedule:{impl}", knobs=knobs)


# the metrics a plateau may watch: logged at validation or in training, never test/
_MONITORED = tuple(name for name in all_metric_names() if not name.startswith("test/"))

SCHEDULE_KNOBS = {
    "interval": Knob(one_of(("step", "epoch")), "step the scheduler every optimizer step or every epoch",
                     required=True),
    "warmup_steps": Knob(integer(0), "linear warmup: lr * (t + 1) / warmup_steps for t < warmup_steps", required=True),
    "step_size": Knob(integer(1), "scheduler steps between two multiplications by gamma"),
    "gamma": Knob(number(0, low_open=True), "the multiplier (step, multistep) or per-step decay (exponential)"),
    "milestones": Knob(MILESTONES, "scheduler steps at which the lr is multiplied by gamma"),
    "decay": Knob(number(0), "1 / (1 + decay * t)"),
    "tau": Knob(number(0, low_open=True), "1 / sqrt(1 + t / tau)"),
    "min_lr_ratio": Knob(number(0, 1), "the last lr as a fraction of the base lr"),
    "pct_start": Knob(number(0, 1, low_open=True, high_open=True), "fraction of the run spent raising the lr"),
    "div_factor": Knob(number(1), "the starting lr is lr / div_factor"),
    "final_div_factor": Knob(number(1), "the last lr is lr / (div_factor * final_div_factor)"),
    "monitor": Knob(Rule(lambda v: primary_objective(v) in _MONITORED if isinstance(v, (str, list, tuple)) and v
                         else False, "one of: " + ", ".join(_MONITORED) + " (or a list of objectives: the first)"),
                    "the metric whose stalling divides the lr"),
    "factor": Knob(number(0, 1, low_open=True, high_open=True), "the lr is multiplied by this on a plateau"),
    "patience": Knob(integer(0), "validations without improvement before a reduction"),
    "threshold": Knob(number(0), "relative improvement that counts as one"),
    "cooldown": Knob(integer(0), "validations to wait after a reduction"),
    "min_lr": Knob(number(0), "the lr never goes below this"),
}

SCHEDULES: dict[str, ScheduleOption] = {
    "constant": _formula_option("constant"),
    "step": _formula_option("step", "step_size", "gamma"),
    "multistep": _formula_option("multistep", "milestones", "gamma"),
    "exponential": _formula_option("exponential", "gamma"),
    "inverse_time": _formula_option("inverse_time", "decay"),
    "inverse_sqrt": _formula_option("inverse_sqrt", "tau"),
    "cosine": _formula_option("cosine", "min_lr_ratio"),
    "one_cycle": _formula_option("one_cycle", "pct_start", "div_factor", "final_div_factor"),
    # reacts to a metric, not a formula of t
    "plateau": ScheduleOption(
        impl="dlrun.recipe.schedule:plateau_schedulers", formula=False,
        knobs=("monitor", "factor", "patience", "threshold", "cooldown", "min_lr"),
        constraints=(Constraint(Rule(lambda v: v.get("interval") == "epoch",
                                     "interval=epoch for schedule=plateau (its metric changes once per validation)")),)),
}
FORMULAS = tuple(name for name, entry in SCHEDULES.items() if entry.formula)

SCHEDULE = Group("schedule", SCHEDULES, SCHEDULE_KNOBS, common=("interval", "warmup_steps"))
