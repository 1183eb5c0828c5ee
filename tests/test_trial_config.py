"""A sweep trial's config derived from the last composed trial (dlrun.sweeps.trial_config)
equals Hydra's own composition of it, hydra node included; anything but new values is left
to Hydra."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf, open_dict

from dlrun.config.compose import DLRUN_CONFIGS, compose, hydra_for
from dlrun.sweeps.trial_config import TrialTemplate

FIRST = ["optim=momentum", "optim.lr=0.001", "model.width=32", "name=first", "trainer.max_epochs=2",
         "callbacks.checkpoint.save_best=true"]


@pytest.fixture(scope="module")
def sweep():
    """(Hydra's config loader, the sweep's master config) as dlrun's sweeper has them."""
    master = compose(["optim.lr=0.1,0.2"], return_hydra_config=True, multirun=True)
    with hydra_for(DLRUN_CONFIGS) as hydra:
        yield hydra.config_loader, master


def _template(loader, master) -> TrialTemplate:
    template = TrialTemplate()
    composed = loader.load_sweep_config(master, FIRST)
    template.remember(FIRST, composed)
    with open_dict(composed):  # what a launcher does to the trial it runs: the template keeps its own copy
        composed.hydra.job.num = 7
        composed.optim.lr = 123.0
    return template


@pytest.mark.parametrize("changes", [
    {1: "optim.lr=0.0173"},
    {1: "optim.lr=1e-5", 2: "model.width=64", 3: "name='a b=c'"},
    {4: "trainer.max_epochs=3", 5: "callbacks.checkpoint.save_best=false", 2: "model.width=null"},
])
def test_a_derived_trial_equals_hydras_composition(sweep, changes):
    loader, master = sweep
    overrides = [changes.get(index, override) for index, override in enumerate(FIRST)]
    derived = _template(loader, master).derive(overrides, master)
    assert derived is not None, overrides
    expected = loader.load_sweep_config(master, overrides)
    assert OmegaConf.to_container(derived) == OmegaConf.to_container(expected)
    assert derived.hydra.job.override_dirname == expected.hydra.job.override_dirname != ""
    assert list(derived.hydra.overrides.task) == overrides


@pytest.mark.parametrize("overrides", [
    ["optim=adam", *FIRST[1:]],  # a group's option: a different tree
    [*FIRST[:-1], "callbacks.checkpoint=null"],  # a node set
    [*FIRST, "+extra=1"],  # one more override
    [*FIRST[:3], "+name=first", *FIRST[4:]],  # an addition in place of a plain set
    ["optim=momentum", "optim.lr=0.001", "model.width=32", "seed=3", *FIRST[4:]],  # another key in that place
])
def test_anything_but_new_values_is_composed_by_hydra(sweep, overrides):
    loader, master = sweep
    assert _template(loader, master).derive(overrides, master) is None
