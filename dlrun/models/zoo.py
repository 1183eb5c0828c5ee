"""The model table: name -> builder and what it can consume.

`build_model(cfg_model, spec)` is the one way a model is made. A config with `_target_`
names the user's own class (or function): it is called with the config's other keys as
keyword arguments and the DataSpec as `spec=` (`name` is the run's label, not passed).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.base.errors import ConfigError
from dlrun.base.options import load_object, lookup

ALL_TASKS = frozenset({"classification", "regression", "sequence"})


@dataclass(frozen=True)
class ModelEntry:
    builder: str  # "module:function"; function(cfg_model, spec) -> nn.Module
    modalities: frozenset
    tasks: frozenset = ALL_TASKS


SEQUENCE_INPUTS = frozenset({"tokens", "image"})  # images read one row per step
PER_SAMPLE_TASKS = frozenset({"classification", "regression"})

MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry("dlrun.models.mlp:build", frozenset({"vector", "image", "tokens"})),
    "cnn": ModelEntry("dlrun.models.cnn:build", frozenset({"image"}), PER_SAMPLE_TASKS),
    "resnet": ModelEntry("dlrun.models.resnet:build", frozenset({"image"}), PER_SAMPLE_TASKS),
    "lstm": ModelEntry("dlrun.models.rnn:build", SEQUENCE_INPUTS),
    "gru": ModelEntry("dlrun.models.rnn:build", SEQUENCE_INPUTS),
    "rnn": ModelEntry("dlrun.models.rnn:build", SEQUENCE_INPUTS),
    "transformer": ModelEntry("dlrun.models.transformer:build", frozenset({"vector", "image", "tokens"})),
    "tcn": ModelEntry("dlrun.models.tcn:build", SEQUENCE_INPUTS),
}

# model name -> [(check(cfg_model), problem)]: knob combinations a single-key rule cannot see
# (dlrun/config/validate.py applies the single-key rules)
KNOB_CHECKS = {
    "transformer": [(lambda m: m["width"] % m["heads"] == 0,
                     "model.width={width} is not divisible by model.heads={heads}: "
                     "each head gets width / heads features")],
    "rnn": [(lambda m: m["activation"] in ("tanh", "relu"),
             "model.activation={activation!r}: model=rnn (torch.nn.RNN) allows one of: tanh, relu")],
}


# keys of a user's model config that are dlrun's, not the class's
OWN_MODEL_KEYS = ("_target_", "name")


def own_model_knobs(cfg_model) -> dict:
    """The keyword arguments a user's model class gets from its config."""
    return {key: value for key, value in cfg_model.items() if key not in OWN_MODEL_KEYS}


def own_model_problems(cfg_model) -> list:
    """A user's `_target_` that cannot be found, or knobs its signature does not take
    (read without importing it: validation stays free of torch)."""
    from dlrun.base.user_code import target_problems

    return target_problems("model", cfg_model["_target_"], own_model_knobs(cfg_model), needs=("spec",))


def model_entry(name: str) -> ModelEntry:
    return lookup(MODELS, "model", name)


def knob_problems(cfg_model) -> list:
    """Problems with combinations of a built-in model's knobs (empty for a user's model)."""
    if "_target_" in cfg_model:
        return []
    return [problem.format(**cfg_model) for check, problem in KNOB_CHECKS.get(cfg_model["name"], [])
            if not check(cfg_model)]


def incompatibility(cfg_model, modality: str, task: str, data_name: str, causal: bool = False):
    """None if the model can consume (modality, task[, causal]); else the one clear message."""
    if "_target_" in cfg_model:
        return None  # a user's model: its own builder decides
    name = cfg_model["name"]
    entry = model_entry(name)
    if modality not in entry.modalities or task not in entry.tasks:
        return (f"model={name} cannot consume data={data_name} ({modality} input, {task} task); "
                f"{name} accepts {'/'.join(sorted(entry.modalities))} input for "
                f"{'/'.join(sorted(entry.tasks))} tasks")
    if causal and cfg_model.get("bidirectional"):
        return (f"model.bidirectional=true: model={name} reading right to left on data={data_name} "
                "(next-token prediction) would see the tokens it must predict; use model.bidirectional=false")
    return None


def _build_own_model(cfg_model, spec):
    from omegaconf import OmegaConf
    from torch import nn

    from dlrun.base.user_code import call_target

    params = OmegaConf.to_container(OmegaConf.create(cfg_model), resolve=True)
    model = call_target("model", params["_target_"], own_model_knobs(params), needs={"spec": spec})
    if not isinstance(model, nn.Module):
        raise ConfigError([f"model._target_={params['_target_']}: returned a {type(model).__name__}, "
                           "expected a torch.nn.Module"])
    return model


def build_model(cfg_model, spec):
    """The nn.Module for this model config and data spec."""
    if "_target_" in cfg_model:
        return _build_own_model(cfg_model, spec)
    problem = incompatibility(cfg_model, spec.modality, spec.task, f"({spec.describe()})", spec.causal)
    if problem:  # known only now for data whose spec comes from loading it (a user's own data)
        raise ConfigError([problem])
    return load_object(model_entry(cfg_model["name"]).builder)(cfg_model, spec)
