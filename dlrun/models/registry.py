"""The model table: name -> builder and what it can consume.

`build_model(cfg_model, spec)` is the one way a model is made. A config with `_target_`
names the user's own builder or class, called with the same (cfg, spec) contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.registry import load_object, lookup

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
# (dlrun/schema.py applies the single-key rules)
KNOB_CHECKS = {
    "transformer": [(lambda m: m["width"] % m["heads"] == 0,
                     "model.width={width} is not divisible by model.heads={heads}: "
                     "each head gets width / heads features")],
    "rnn": [(lambda m: m["activation"] in ("tanh", "relu"),
             "model.activation={activation!r}: model=rnn (torch.nn.RNN) allows one of: tanh, relu")],
}


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


def build_model(cfg_model, spec):
    """The nn.Module for this model config and data spec."""
    if "_target_" in cfg_model:
        from hydra.utils import get_object
        from omegaconf import OmegaConf

        params = OmegaConf.to_container(OmegaConf.create(cfg_model), resolve=True)
        return get_object(params.pop("_target_"))(params, spec)
    problem = incompatibility(cfg_model, spec.modality, spec.task, f"({spec.describe()})", spec.causal)
    if problem:
        raise ValueError(problem)
    return load_object(model_entry(cfg_model["name"]).builder)(cfg_model, spec)
