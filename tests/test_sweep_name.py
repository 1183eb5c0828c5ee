"""Sweep folders named by what is swept (dlrun/config/sweep_name.py); the real CLI's folder is checked in
tests/test_console.py."""

from __future__ import annotations

import pytest

from dlrun.config.sweep_name import sweep_name

LR = "tag(log, interval(1e-5, 1e-1))"
CASES = [
    (["model=cnn,resnet", "trainer.max_epochs=1"], None, "cnn-resnet_digits"),
    ([f"optim.lr={LR}", "hydra.sweeper.n_trials=4"], None, "mlp_digits_lr"),
    (["sweep=lr", "optim=adamw"], {"optim.lr": LR}, "mlp_digits_lr"),  # a preset's params count
    (["optim.lr=0.1,0.01"], {"optim.lr": LR}, "mlp_digits_lr"),  # the same key once
    (["data=moons,circles", "optim=glob(ada*)", "model.norm=choice(batch, none)"], None,
     "mlp_moons-circles_optim_norm"),
    (["+experiment=init_depth", "init=normal,kaiming"], {"init": "normal,xavier,kaiming"}, "init_depth"),
    (["name=mine", "optim.lr=0.1,0.01"], None, "mine"),
    (["optim.lr=0.1"], None, "mlp_digits"),  # nothing swept
]


@pytest.mark.parametrize("overrides, params, expected", CASES, ids=[case[2] for case in CASES])
def test_a_sweep_is_named_by_what_it_sweeps(overrides, params, expected):
    name = {"+experiment=init_depth": "init_depth", "name=mine": "mine"}.get(overrides[0], "mlp_digits")
    assert sweep_name(overrides, params, name, "mlp", "digits") == expected
