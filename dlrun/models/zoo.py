"""The model table: name -> builder and what it can consume.

`build_model(cfg_model, spec)` is the one way a model is made. A config with `_target_`
names the user's own class (or function): it is called with the config's other keys as
keyword arguments and the DataSpec as `spec=` (`name` is the run's label, not passed).
Each built-in model declares its knobs once in MODELS (defaults in conf/model/NAME.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.base.errors import ConfigError
from dlrun.base.options import Group, Knob, Option, load_object, lookup
from dlrun.base.rules import BOOLEAN, Rule, in_range, integer, number, one_of
# The layer choices a model config may name (the torch classes load when a model is built)
ACTIVATIONS = {
    "relu": "torch.nn:ReLU",
    "leaky_relu": "torch.nn:LeakyReLU",
    "elu": "torch.nn:ELU",
    "gelu": "torch.nn:GELU",
    "tanh": "torch.nn:Tanh",
    "sigmoid": "torch.nn:Sigmoid",
}
NORMS = ("none", "batch", "layer")
ALL_TASKS = frozenset({"classification", "regression", "sequence"})


@dataclass(frozen=True, kw_only=True)
class ModelEntry(Option):
    # impl: "module:function"; function(cfg_model, spec) -> nn.Module
    modalities: frozenset
    tasks: frozenset = ALL_TASKS
    # [(check(cfg_model), problem)]: knob combinations a single-knob rule cannot see
    checks: tuple = ()


SEQUENCE_INPUTS = frozenset({"tokens", "image"})  # images read one row per step
PER_SAMPLE_TASKS = frozenset({"classification", "regression"})
ANY_INPUT = frozenset({"vector", "image", "tokens"})

MODEL_KNOBS = {
    "width": Knob(integer(1), "hidden units, channels of the first stage, or the model dimension"),
    "depth": Knob(integer(1), "layers, stages, blocks per stage or residual blocks"),
    "activation": Knob(one_of(ACTIVATIONS), "the nonlinearity"),
    "norm": Knob(one_of(NORMS), "normalisation after every layer"),
    "dropout": Knob(number(0, 1, high_open=True), "dropout probability"),
    "convs_per_stage": Knob(integer(1), "3x3 convolutions per stage"),
    "stages": Knob(integer(1), "stages; each doubles the channels and halves the image"),
    "residual": Knob(BOOLEAN, "skip connections (false: the same network without them)"),
    "bidirectional": Knob(BOOLEAN, "also read right to left (refused on causal data)"),
    "heads": Knob(integer(1), "attention heads; width must be divisible by heads"),
    "mlp_ratio": Knob(number(0, low_open=True), "feed-forward hidden width = mlp_ratio * width"),
    "positions": Knob(one_of(("learned", "sinusoidal")), "position encoding"),
    "patch_size": Knob(Rule(lambda v: v == "auto" or in_range(v, 1), "'auto' or an integer >= 1"),
                       "images: p x p patches; auto picks one giving <= 64 patches"),
    "kernel_size": Knob(integer(2), "convolution kernel length"),
}
_RECURRENT = ("width", "depth", "bidirectional", "norm", "dropout")


def _recurrent(*extra: str, checks=()) -> ModelEntry:
    return ModelEntry(impl="dlrun.models.rnn:build", modalities=SEQUENCE_INPUTS, knobs=_RECURRENT + extra,
                      checks=checks)


MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry(impl="dlrun.models.mlp:build", modalities=ANY_INPUT,
                      knobs=("width", "depth", "activation", "norm", "dropout")),
    "cnn": ModelEntry(impl="dlrun.models.cnn:build", modalities=frozenset({"image"}), tasks=PER_SAMPLE_TASKS,
                      knobs=("width", "depth", "convs_per_stage", "activation", "norm", "dropout")),
    "resnet": ModelEntry(impl="dlrun.models.resnet:build", modalities=frozenset({"image"}), tasks=PER_SAMPLE_TASKS,
                         knobs=("width", "depth", "stages", "residual", "activation", "norm", "dropout")),
    "lstm": _recurrent(),
    "gru": _recurrent(),
    "rnn": _recurrent("activation", checks=(
        (lambda m: m["activation"] in ("tanh", "relu"),
         "model.activation={activation!r}: model=rnn (torch.nn.RNN) allows one of: tanh, relu"),)),
    "transformer": ModelEntry(
        impl="dlrun.models.transformer:build", modalities=ANY_INPUT,
        knobs=("width", "depth", "heads", "mlp_ratio", "positions", "patch_size", "activation", "norm", "dropout"),
        checks=((lambda m: m["width"] % m["heads"] == 0,
                 "model.width={width} is not divisible by model.heads={heads}: each head gets width / heads features"),)),
    "tcn": ModelEntry(impl="dlrun.models.tcn:build", modalities=SEQUENCE_INPUTS,
                      knobs=("width", "depth", "kernel_size", "activation", "norm", "dropout")),
}

# an unknown model name is reported by validation, which also allows a user's _target_
MODEL = Group("model", MODELS, MODEL_KNOBS, checks_name=False)


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
    return [problem.format(**cfg_model) for check, problem in model_entry(cfg_model["name"]).checks
            if not check(cfg_model)]


def patch_size_problem(size, height: int, width: int):
    """The message for image patches that do not tile the images, or None. Shared by validation
    (for data whose image size is fixed) and the transformer's stem (for any image)."""
    if isinstance(size, int) and (height % size or width % size):
        return (f"model.patch_size={size} does not divide the {height}x{width} images; "
                "use a divisor of both sides or 'auto'")
    return None


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
    return load_object(model_entry(cfg_model["name"]).impl)(cfg_model, spec)
