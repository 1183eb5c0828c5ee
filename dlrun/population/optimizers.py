"""A population's optimizer and lr schedule: the trials' own optimizer class over every
member's parameter groups (each group with its member's hyperparameters), and one lr
factor per group from its member's schedule knobs (dlrun.recipe.schedule's formulas)."""

from __future__ import annotations

from dlrun.recipe.optim import OPTIMIZERS, optimizer_arguments, parameter_groups
from dlrun.base.options import load_object, lookup
from dlrun.recipe.schedule import lr_factor


def member_optimizer(members: list, population) -> tuple:
    """(optimizer, index of each member's first group, the member owning each group)."""
    groups, first, owners = [], [], []
    for index, member in enumerate(members):
        arguments = optimizer_arguments(member.config["optim"])
        decay = arguments.pop("weight_decay", 0.0)
        first.append(len(groups))
        for group in parameter_groups(population.members[index], decay):
            groups.append({**arguments, **group})
            owners.append(index)
    cls = load_object(lookup(OPTIMIZERS, "optimizer", members[0].config["optim"]["name"]).impl)
    return cls(groups), first, owners


def member_schedulers(members: list, optimizer, owners: list, total: int) -> list:
    """Lightning scheduler dicts: none when no member schedules its lr (a single run steps none either)."""
    from torch.optim.lr_scheduler import LambdaLR

    schedules = [member.config["schedule"] for member in members]
    if all(plain["name"] == "constant" and plain["warmup_steps"] == 0 for plain in schedules):
        return []
    factors = [_factor(schedules[owner], total) for owner in owners]
    return [{"scheduler": LambdaLR(optimizer, factors), "interval": schedules[0]["interval"], "frequency": 1}]


def _factor(plain: dict, total: int):
    return lambda t: lr_factor(plain, t, total)
