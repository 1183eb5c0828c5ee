"""Gradient noise: the variance added at step t is eta / (1 + t)^gamma, measured on a real
Lightning fit whose loss has zero gradient, so SGD with lr 1 moves the weights by exactly
minus the sum of the noise; the config builds the callback with its knobs."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from dlrun.callbacks.gradient_noise import GradientNoise, noise_std
from dlrun.config.compose import compose, without_hydra
from dlrun.training.trainer import build_callbacks

ETA, GAMMA, STEPS, SIZE = 0.3, 0.55, 12, 200_000


class ZeroGradient(L.LightningModule):
    """One large parameter and a loss whose gradient is zero: only the noise moves it."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(SIZE))

    def training_step(self, batch, batch_idx):
        return (self.weight * 0.0).sum()

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(STEPS, 1), batch_size=1)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1.0)


def test_noise_variance_decays_as_eta_over_one_plus_t_to_the_gamma(tmp_path):
    L.seed_everything(0, verbose=False)
    module = ZeroGradient()
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[GradientNoise(ETA, GAMMA)], default_root_dir=tmp_path)
    trainer.fit(module)
    expected_variance = sum(noise_std(ETA, GAMMA, step) ** 2 for step in range(STEPS))
    assert expected_variance == pytest.approx(sum(ETA / (1 + t) ** GAMMA for t in range(STEPS)))
    measured = module.weight.detach().var().item()
    assert measured == pytest.approx(expected_variance, rel=0.03)  # 200k samples: ~0.3 % sampling error
    assert abs(module.weight.detach().mean().item()) < 0.01


def test_config_turns_noise_on_with_its_knobs():
    def noise(overrides):
        made = build_callbacks(without_hydra(compose(overrides)), Path("unused"))
        return [callback for callback in made if isinstance(callback, GradientNoise)]

    assert noise([]) == []
    (callback,) = noise(["callbacks.gradient_noise.enabled=true", "callbacks.gradient_noise.eta=0.5"])
    assert (callback.eta, callback.gamma) == (0.5, 0.55)
