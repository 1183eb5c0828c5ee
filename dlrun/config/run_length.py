"""Checks that need the run's length: batches an epoch (from the data's size where that is
cheap to know, as Lightning counts them), scheduler steps of the whole run, and the knobs
Lightning or the schedule would refuse (or silently ignore) against them: a fraction of
the train batches that is no batch, a validation interval past the epoch, a warmup
longer than the run. Standard library only (runs at validation)."""

from __future__ import annotations

import math
from typing import Optional

from dlrun.data.datasets import train_samples


def train_batches(cfg: dict) -> Optional[int]:
    """Batches an epoch holds before trainer.limit_train_batches, or None if not cheap to know."""
    samples = train_samples(cfg["data"])
    return None if samples is None else math.ceil(samples / cfg["data"]["batch_size"])


def _limited(batches: int, limit) -> int:
    """Lightning's rule for limit_train_batches: an int caps, a float is a fraction (rounded down)."""
    return min(batches, limit) if isinstance(limit, int) else int(batches * limit)


def _batch_problems(cfg: dict, batches: int) -> list:
    trainer = cfg["trainer"]
    limit, interval = trainer["limit_train_batches"], trainer["val_check_interval"]
    if isinstance(limit, float) and _limited(batches, limit) == 0:
        return [f"trainer.limit_train_batches={limit}: {limit} of the {batches} train batches is not one batch; "
                f"use at least {1 / batches:.3g} (or a whole number of batches)"]
    limited = _limited(batches, limit)
    if (isinstance(interval, int) and interval > limited and trainer.get("check_val_every_n_epoch") is not None
            and trainer.get("limit_val_batches") != 0):
        return [f"trainer.val_check_interval={interval}: more than the {limited} train batches of an epoch; "
                f"use at most {limited} (or a fraction of the epoch)"]
    return []


def scheduler_steps(cfg: dict, batches: Optional[int]) -> Optional[int]:
    """The most times the scheduler steps in this run (as dlrun.recipe.schedule counts them), or None."""
    max_epochs, max_steps = cfg["trainer"]["max_epochs"], cfg["trainer"]["max_steps"]
    per_epoch = None if batches is None else max(1, _limited(batches, cfg["trainer"]["limit_train_batches"]))
    if cfg["schedule"].get("interval", "step") == "epoch":
        if per_epoch is None or max_steps == -1:
            return max_epochs
        return min(max_epochs, math.ceil(max_steps / per_epoch))
    if per_epoch is None:
        return None if max_steps == -1 else max_steps
    steps = max_epochs * per_epoch
    return steps if max_steps == -1 else min(steps, max_steps)


def _length_text(cfg: dict, batches: Optional[int]) -> str:
    trainer = cfg["trainer"]
    parts = [f"trainer.max_epochs={trainer['max_epochs']}"]
    if batches is not None:
        parts.append(f"{_limited(batches, trainer['limit_train_batches'])} batches an epoch")
    if trainer["max_steps"] != -1:
        parts.append(f"trainer.max_steps={trainer['max_steps']}")
    return ", ".join(parts)


def run_length_problems(cfg: dict) -> list:
    """What the run's length makes impossible; [] when the length is not known cheaply."""
    batches = train_batches(cfg)
    problems = _batch_problems(cfg, batches) if batches else []
    warmup = cfg.get("schedule", {}).get("warmup_steps", 0)
    total = scheduler_steps(cfg, batches)
    if not problems and total is not None and warmup > total:
        unit = "epochs" if cfg["schedule"].get("interval") == "epoch" else "steps"
        problems.append(f"schedule.warmup_steps={warmup}: longer than the whole run ({total} scheduler {unit}: "
                        f"{_length_text(cfg, batches)}); use at most {total}")
    return problems
