"""Diagnostics callbacks on real runs: per-layer activation statistics that show a
vanishing signal, update/weight ratios and gradient norms that obey their formulas, values
in every logger (metrics.csv) and in plots/diagnostics.png, hooks only on sampled steps."""

from __future__ import annotations

import csv
import math

import pytest

import dlrun
from conftest import TINY
from dlrun.config.compose import compose, without_hydra

ONE_EPOCH = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
             "trainer.log_every_n_steps=1", "trainer.progress_bar=false", "trainer.test_after_fit=false"]
EVERY_STEP = ["callbacks=diagnostics", "callbacks.diagnostics.every_n_steps=1"]
DEEP_TANH = ["model.depth=10", "model.activation=tanh", *EVERY_STEP]
# a Linear, its norm, its activation, its dropout per block: activations are body.2, body.6, ...
ACTIVATION_LAYERS = [f"body.{4 * block + 2}" for block in range(10)]


def logged_rows(run_dir, column: str) -> list:
    """metrics.csv rows (the CSV logger's file) that carry `column`, in step order."""
    with open(run_dir / "metrics.csv") as handle:
        return sorted((row for row in csv.DictReader(handle) if row.get(column)), key=lambda row: int(row["step"]))


def first_step_activation_stds(run_dir) -> list:
    row = logged_rows(run_dir, "act_std/body.2")[0]
    assert row["step"] == "0"
    return [float(row[f"act_std/{layer}"]) for layer in ACTIVATION_LAYERS]


def test_activation_std_vanishes_under_small_normal_init_and_holds_under_xavier(tmp_path):
    dlrun.run([*ONE_EPOCH, *DEEP_TANH, "init=normal", "init.std=0.01"], run_dir=tmp_path / "normal")
    dlrun.run([*ONE_EPOCH, *DEEP_TANH, "init=xavier"], run_dir=tmp_path / "xavier")

    small = first_step_activation_stds(tmp_path / "normal")
    # each layer multiplies the std by about 0.01 * sqrt(width 256) = 0.16
    assert all(deeper < 0.3 * shallower for shallower, deeper in zip(small, small[1:])), small
    assert small[-1] < 1e-6, small
    dead = float(logged_rows(tmp_path / "normal", "act_dead/body.38")[0]["act_dead/body.38"])
    assert dead == 1.0, "a signal of 1e-8 does not vary over the batch: every unit counts as dead"

    glorot = first_step_activation_stds(tmp_path / "xavier")
    assert min(glorot) > 0.1 and max(glorot) / min(glorot) < 3, glorot
    assert (tmp_path / "xavier" / "plots" / "diagnostics.png").stat().st_size > 10_000


def test_update_ratio_follows_the_sgd_step_and_total_gradient_norm_combines_the_layers(tmp_path):
    plain_sgd = [*ONE_EPOCH, "optim=sgd", "init=xavier", *EVERY_STEP]
    dlrun.run([*plain_sgd, "optim.lr=0.1"], run_dir=tmp_path / "big")
    dlrun.run([*plain_sgd, "optim.lr=0.01"], run_dir=tmp_path / "small")
    layers = ["body.0", "body.4", "head"]

    big, small = (logged_rows(tmp_path / name, "update_ratio/head")[0] for name in ("big", "small"))
    for layer in layers:  # step 0: same weights, same gradients; an SGD update is lr * gradient
        ratio = float(big[f"update_ratio/{layer}"]) / float(small[f"update_ratio/{layer}"])
        assert ratio == pytest.approx(10, rel=1e-4), layer
    assert 1e-4 < float(small["update_ratio/body.0"]) < 1

    norms = logged_rows(tmp_path / "big", "grad_norm/total")[0]
    combined = math.sqrt(sum(float(norms[f"grad_norm/{layer}"]) ** 2 for layer in layers))
    assert float(norms["grad_norm/total"]) == pytest.approx(combined, rel=1e-5)


def _fit(overrides, run_dir):
    from dlrun.training.runner import build_components
    from dlrun.training.trainer import build_trainer

    cfg = without_hydra(compose(overrides))
    datamodule, task = build_components(cfg)
    trainer = build_trainer(cfg, run_dir)
    trainer.fit(task, datamodule=datamodule)
    return trainer, task


def test_diagnostics_are_off_by_default_and_sample_only_every_n_steps_with_hooks_removed(tmp_path):
    from dlrun.callbacks.recorder import DiagnosticRecorder
    from dlrun.training.trainer import build_callbacks

    defaults = build_callbacks(without_hydra(compose([])), tmp_path)
    assert not [callback for callback in defaults if isinstance(callback, DiagnosticRecorder)]

    trainer, task = _fit([*TINY, "callbacks=diagnostics", "callbacks.diagnostics.every_n_steps=4"], tmp_path / "run")
    recorders = [callback for callback in trainer.callbacks if isinstance(callback, DiagnosticRecorder)]
    assert len(recorders) == 3
    for recorder in recorders:  # 10 steps sampled at 0, 4, 8
        assert [step for step, _ in recorder.rows] == [0, 4, 8], type(recorder).__name__
    assert not [name for name, module in task.named_modules() if module._forward_hooks]
