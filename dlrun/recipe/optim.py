"""Optimizer factory over one table, and the gradient-clipping arguments for the Trainer.

Each entry names its torch class, the config knobs it accepts (their defaults live in
conf/optim/*.yaml, nowhere else) and fixed arguments that make the variant (nesterov).
Weight decay never touches 1-D parameters (biases, norm weights). Frozen parameters
(requires_grad False, e.g. a backbone frozen by init=checkpoint) get no optimizer state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlrun.base.options import load_object, lookup

# keys of an optim config that are not optimizer arguments
NON_ARGUMENT_KEYS = ("name", "clip")


@dataclass(frozen=True)
class OptimEntry:
    cls: str
    knobs: tuple
    fixed: dict = field(default_factory=dict)


OPTIMIZERS: dict[str, OptimEntry] = {
    "sgd": OptimEntry("torch.optim:SGD", ("lr", "weight_decay")),
    "momentum": OptimEntry("torch.optim:SGD", ("lr", "momentum", "weight_decay", "dampening"), {"nesterov": False}),
    "nesterov": OptimEntry("torch.optim:SGD", ("lr", "momentum", "weight_decay"), {"nesterov": True}),
    "adagrad": OptimEntry("torch.optim:Adagrad", ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")),
    "rmsprop": OptimEntry("torch.optim:RMSprop", ("lr", "alpha", "eps", "momentum", "centered", "weight_decay")),
    "adam": OptimEntry("torch.optim:Adam", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
    "adamw": OptimEntry("torch.optim:AdamW", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
}


def optimizer_arguments(cfg_optim) -> dict:
    """The keyword arguments for the optimizer class; unknown knobs raise, listing the valid ones."""
    entry = lookup(OPTIMIZERS, "optimizer", cfg_optim["name"])
    arguments = {}
    for key, value in dict(cfg_optim).items():
        if key in NON_ARGUMENT_KEYS:
            continue
        if key not in entry.knobs:
            raise ValueError(f"optim.{key}={value!r} is not a knob of optim={cfg_optim['name']}; "
                             f"valid: {', '.join(entry.knobs)}")
        arguments[key] = tuple(value) if key == "betas" else value
    return {**arguments, **entry.fixed}


def parameter_groups(model, weight_decay: float) -> list:
    """Decay matrices and kernels; never biases, norm weights or other 1-D parameters."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def build_optimizer(cfg_optim, model):
    arguments = optimizer_arguments(cfg_optim)
    cls = load_object(lookup(OPTIMIZERS, "optimizer", cfg_optim["name"]).cls)
    groups = parameter_groups(model, arguments.pop("weight_decay", 0.0))
    return cls(groups, **arguments)


def gradient_clipping(cfg_optim) -> dict:
    """Lightning Trainer arguments for `optim.clip`: by total norm, by value, or off (both null;
    validation refuses both set)."""
    clip = cfg_optim["clip"]
    if clip["norm"] is not None:
        return {"gradient_clip_val": clip["norm"], "gradient_clip_algorithm": "norm"}
    if clip["value"] is not None:
        return {"gradient_clip_val": clip["value"], "gradient_clip_algorithm": "value"}
    return {"gradient_clip_val": None, "gradient_clip_algorithm": None}
