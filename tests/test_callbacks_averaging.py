"""EMA and SWA of the weights on real runs: validation sees the average, checkpoints hold
the average (state_dict) and the raw training weights (callback state), training itself
is untouched, and SWA's average is the mean of the weights it sampled."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

import dlrun
from conftest import TINY
from dlrun.callbacks.averaging import TRAINING_WEIGHTS, ExponentialMovingAverage

EMA = ["callbacks.averaging.name=ema", "callbacks.averaging.ema.decay=0.9"]
SWA_PER_EPOCH = ["callbacks.averaging.name=swa", "callbacks.averaging.swa.start_fraction=0.0",
                 "callbacks.averaging.swa.every_n_steps=0"]


def last_checkpoint(run_dir) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def averaging_state(checkpoint: dict, name: str) -> dict:
    return next(state for key, state in checkpoint["callbacks"].items() if key.startswith(name))


def test_ema_is_evaluated_and_checkpointed_while_training_goes_on_with_raw_weights(tiny_run, tmp_path):
    plain_summary, plain_dir = tiny_run
    summary = dlrun.run([*TINY, *EMA], run_dir=tmp_path)
    assert summary["status"] == "completed"
    assert abs(summary["final"]["val/loss"] - plain_summary["final"]["val/loss"]) > 1e-3

    checkpoint, reference = last_checkpoint(tmp_path), last_checkpoint(plain_dir)
    state = averaging_state(checkpoint, "ExponentialMovingAverage")
    assert state["count"] == 10  # every step of 2 epochs x 5 batches
    raw, averaged = state[TRAINING_WEIGHTS], checkpoint["state_dict"]
    for name, tensor in reference["state_dict"].items():
        assert torch.equal(raw[name], tensor), f"{name}: the average must not change training"
    assert any((averaged[name] - raw[name]).abs().max() > 1e-4 for name in raw)


def test_swa_checkpoints_the_mean_of_the_epoch_end_weights(tmp_path):
    one_epoch = [*TINY, "trainer.max_epochs=1"]
    dlrun.run(one_epoch, run_dir=tmp_path / "one")  # the same trajectory's weights after epoch 1
    summary = dlrun.run([*TINY, *SWA_PER_EPOCH], run_dir=tmp_path / "swa")
    assert summary["status"] == "completed"

    after_first = last_checkpoint(tmp_path / "one")["state_dict"]
    checkpoint = last_checkpoint(tmp_path / "swa")
    state = averaging_state(checkpoint, "StochasticWeightAverage")
    assert state["count"] == 2
    for name, after_second in state[TRAINING_WEIGHTS].items():
        expected = (after_first[name] + after_second) / 2
        torch.testing.assert_close(checkpoint["state_dict"][name], expected, rtol=1e-5, atol=1e-6)


def test_ema_decay_warms_up_then_holds():
    ema = ExponentialMovingAverage(OmegaConf.create({"decay": 0.999, "warmup": True, "every_n_steps": 1}))
    decays = []
    for count in (0, 10, 10_000):
        ema.count = count
        decays.append(ema.current_decay())
    assert decays == pytest.approx([0.1, 11 / 20, 0.999])
