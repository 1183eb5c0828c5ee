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


MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry("dlrun.models.mlp:build", frozenset({"vector", "image", "tokens"})),
}


def model_entry(name: str) -> ModelEntry:
    return lookup(MODELS, "model", name)


def incompatibility(cfg_model, modality: str, task: str, data_name: str):
    """None if the model can consume (modality, task); else the one clear message."""
    if "_target_" in cfg_model:
        return None  # a user's model: its own builder decides
    entry = model_entry(cfg_model["name"])
    if modality in entry.modalities and task in entry.tasks:
        return None
    return (f"model={cfg_model['name']} cannot consume data={data_name} ({modality} input, {task} task); "
            f"{cfg_model['name']} accepts {'/'.join(sorted(entry.modalities))} input for "
            f"{'/'.join(sorted(entry.tasks))} tasks")


def build_model(cfg_model, spec):
    """The nn.Module for this model config and data spec."""
    if "_target_" in cfg_model:
        from hydra.utils import get_object
        from omegaconf import OmegaConf

        params = OmegaConf.to_container(OmegaConf.create(cfg_model), resolve=True)
        return get_object(params.pop("_target_"))(params, spec)
    problem = incompatibility(cfg_model, spec.modality, spec.task, "?")
    if problem:
        raise ValueError(problem)
    return load_object(model_entry(cfg_model["name"]).builder)(cfg_model, spec)
