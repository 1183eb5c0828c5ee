"""Schedules: the lr read from the real torch scheduler after real optimizer steps equals
each schedule's formula, warmup included; plateau reacts to its metric; and the `lr` a
short run logs to metrics.csv follows the formula with the total taken from the trainer."""

from __future__ import annotations

import csv
import math

import pytest
import torch

import dlrun
from conftest import TINY
from dlrun.config.compose import compose
from dlrun.recipe.schedule import FORMULAS, build_scheduler
from dlrun.config.validate import ConfigError, validate

BASE_LR, TOTAL, WARMUP = 0.1, 40, 4


def _cos_between(start, end, progress):
    return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2


def _one_cycle(c, t, horizon):
    peak, start = c.pct_start * horizon, 1 / c.div_factor
    if t < peak:
        return _cos_between(start, 1.0, t / peak)
    return _cos_between(1.0, start / c.final_div_factor, (t - peak) / (horizon - peak))


# name -> (knob overrides that make the curve move within TOTAL steps, multiplier(cfg, t, horizon)
# with t counted from the end of the warmup). A new formula schedule needs a line here.
EXPECTED = {
    "constant": ([], lambda c, t, h: 1.0),
    "step": (["schedule.step_size=5", "schedule.gamma=0.5"], lambda c, t, h: 0.5 ** (t // 5)),
    "multistep": (["schedule.milestones=[3,10]", "schedule.gamma=0.5"], lambda c, t, h: 0.5 ** ((t >= 3) + (t >= 10))),
    "exponential": (["schedule.gamma=0.9"], lambda c, t, h: 0.9 ** t),
    "inverse_time": (["schedule.decay=0.2"], lambda c, t, h: 1 / (1 + 0.2 * t)),
    "inverse_sqrt": (["schedule.tau=4"], lambda c, t, h: 1 / math.sqrt(1 + t / 4)),
    "cosine": (["schedule.min_lr_ratio=0.1"], lambda c, t, h: 0.1 + 0.9 * (1 + math.cos(math.pi * t / h)) / 2),
    "one_cycle": (["schedule.pct_start=0.25", "schedule.div_factor=10", "schedule.final_div_factor=100"], _one_cycle),
}


def _lrs_from_real_scheduler(cfg_schedule, steps, metrics=None):
    """Drive torch: record the lr each step trains with, take an optimizer step, step the
    scheduler(s) as Lightning does (plateau ones with the metric)."""
    parameter = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([parameter], lr=BASE_LR)
    schedulers = build_scheduler(cfg_schedule, optimizer, steps)
    lrs = []
    for t in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        parameter.square().sum().backward()
        optimizer.step()
        for entry in schedulers:
            entry["scheduler"].step(*([metrics[t]] if "monitor" in entry else []))
    return lrs, schedulers


def test_every_formula_schedule_has_an_expected_curve():
    """Each YAML against its declaration: tests/test_declarations.py; here, the curves."""
    assert set(EXPECTED) == set(FORMULAS)


@pytest.mark.parametrize("warmup", [0, WARMUP])
@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_lr_of_the_real_scheduler_follows_the_formula(name, warmup):
    overrides, formula = EXPECTED[name]
    cfg = compose([f"schedule={name}", f"schedule.warmup_steps={warmup}", *overrides]).schedule
    lrs, _ = _lrs_from_real_scheduler(cfg, TOTAL)
    expected = [BASE_LR * ((t + 1) / warmup if t < warmup else formula(cfg, t - warmup, TOTAL - warmup))
                for t in range(TOTAL)]
    assert lrs == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert len(set(round(lr, 12) for lr in lrs[warmup:])) > (1 if name != "constant" else 0)


def test_plateau_divides_lr_after_patience_bad_epochs_and_warms_up_first():
    cfg = compose(["schedule=plateau", "schedule.warmup_steps=3", "schedule.patience=2", "schedule.factor=0.5"]).schedule
    metrics = [1.0, 0.9, 0.8] + [0.8] * 7  # improves for 3 epochs, then stalls
    lrs, schedulers = _lrs_from_real_scheduler(cfg, len(metrics), metrics)
    # warmup 1/3, 2/3, 1; bad epochs 3, 4, 5 -> the 3rd (> patience 2) halves; again after 6, 7, 8
    expected = [1 / 3, 2 / 3, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert lrs == pytest.approx([BASE_LR * f for f in expected], rel=1e-9)
    plateau = schedulers[-1]
    assert plateau["monitor"] == "val/loss" and plateau["interval"] == "epoch" and plateau["scheduler"].mode == "min"


def test_plateau_monitor_defaults_to_the_objective_and_follows_its_direction():
    cfg = compose(["schedule=plateau", "objective=val/acc"])
    assert cfg.schedule.monitor == "val/acc"
    _, schedulers = _lrs_from_real_scheduler(cfg.schedule, 1, [0.5])
    assert schedulers[-1]["scheduler"].mode == "max"


@pytest.mark.parametrize("overrides, message", [
    (["schedule=plateau", "schedule.interval=step"], "interval=epoch for schedule=plateau"),
    (["schedule=cosine", "schedule.interval=batch"], r"schedule\.interval='batch'"),
    (["schedule=multistep", "schedule.milestones=[0,3]"], r"schedule\.milestones=\[0, 3\]"),
    (["schedule=plateau", "schedule.monitor=test/acc"], r"schedule\.monitor='test/acc'"),
])
def test_bad_schedule_knobs_are_rejected_with_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose(overrides))


def _logged_lr(run_dir) -> dict:
    with open(run_dir / "metrics.csv") as handle:
        return {int(row["step"]): float(row["lr"]) for row in csv.DictReader(handle) if row.get("lr")}


LOGGED = [*TINY, "trainer.log_every_n_steps=1", "optim=sgd", f"optim.lr={BASE_LR}"]


def test_logged_lr_follows_warmup_then_cosine_over_the_trainers_max_steps(tmp_path):
    """5 batches an epoch, 3 epochs, but max_steps=12: the cosine spans 12 - 3 warmup steps."""
    summary = dlrun.run([*LOGGED, "trainer.max_epochs=3", "trainer.max_steps=12", "schedule=cosine",
                         "schedule.warmup_steps=3"], run_dir=tmp_path)
    assert summary["status"] == "completed" and summary["global_step"] == 12
    expected = {t: BASE_LR * ((t + 1) / 3 if t < 3 else (1 + math.cos(math.pi * (t - 3) / 9)) / 2) for t in range(12)}
    assert _logged_lr(tmp_path) == pytest.approx(expected, rel=1e-6)


def test_logged_lr_steps_once_an_epoch_with_interval_epoch(tmp_path):
    summary = dlrun.run([*LOGGED, "trainer.max_epochs=3", "schedule=exponential", "schedule.gamma=0.5",
                         "schedule.warmup_steps=1"], run_dir=tmp_path)
    assert summary["status"] == "completed"
    # 5 steps an epoch; warmup epoch 0 (factor 1/1), then 0.5 ** (epoch - 1)
    expected = {t: BASE_LR * (1.0 if t < 5 else 0.5 ** (t // 5 - 1)) for t in range(15)}
    assert _logged_lr(tmp_path) == pytest.approx(expected, rel=1e-6)


def test_lightning_feeds_the_monitored_metric_to_plateau(tmp_path):
    """threshold 0.9: only a 90% drop of val/loss counts as progress, so after the first
    validation every epoch is a bad one and patience 0 halves the lr each time."""
    summary = dlrun.run([*LOGGED, "trainer.max_epochs=4", "schedule=plateau", "schedule.patience=0",
                         "schedule.threshold=0.9", "schedule.factor=0.5"], run_dir=tmp_path)
    assert summary["status"] == "completed"
    expected = {t: BASE_LR * (1.0 if t < 10 else 0.5 ** (t // 5 - 1)) for t in range(20)}
    assert _logged_lr(tmp_path) == pytest.approx(expected, rel=1e-6)
