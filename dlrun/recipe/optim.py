"""Optimizer factory over one table, and the gradient-clipping arguments for the Trainer.

Each entry names its torch class, the knobs it passes to it (declared once in OPTIM_KNOBS;
their defaults live in conf/optim/NAME.yaml, nowhere else) and fixed arguments that make the
variant (nesterov). Adding an optimizer is one entry here and its YAML.
Weight decay never touches 1-D parameters (biases, norm weights). Frozen parameters
(requires_grad False, e.g. a backbone frozen by init=checkpoint) get no optimizer state.
"""

from __future__ import annotations

from dlrun.base.options import Constraint, Group, Knob, Option, load_object, lookup
from dlrun.base.rules import BETAS, BOOLEAN, OFF_OR_POSITIVE, Rule, is_number, number

# keys of an optim config that are not optimizer arguments
NON_ARGUMENT_KEYS = ("name", "clip")

OPTIM_KNOBS = {
    "lr": Knob(number(0, low_open=True), "learning rate (the schedule multiplies it)", required=True),
    "weight_decay": Knob(number(0), "decay of weight matrices and kernels (never biases or norm weights)"),
    "momentum": Knob(number(0, 1, high_open=True), "fraction of the previous step kept in the next"),
    "eps": Knob(number(0, low_open=True), "added to the denominator for numerical stability"),
    "betas": Knob(BETAS, "decay rates of the first and second moment estimates"),
    "dampening": Knob(number(0, 1), "fraction of the new gradient left out of the momentum buffer"),
    "alpha": Knob(number(0, 1, high_open=True), "decay rate of the squared-gradient average"),
    "lr_decay": Knob(number(0), "lr / (1 + (t - 1) * lr_decay) at step t"),
    "initial_accumulator_value": Knob(number(0), "starting value of the squared-gradient sum"),
    "centered": Knob(BOOLEAN, "divide by the gradient's variance estimate instead of its second moment"),
    "amsgrad": Knob(BOOLEAN, "use the running maximum of the second moment (AMSGrad)"),
    "clip.norm": Knob(OFF_OR_POSITIVE, "clip the total gradient norm (all parameters together) to this value"),
    "clip.value": Knob(OFF_OR_POSITIVE, "clip every gradient element to [-value, value]"),
}

_NESTEROV_NEEDS_MOMENTUM = Constraint(Rule(lambda v: is_number(v.get("momentum", 0)) and v.get("momentum", 0) > 0,
                                           "momentum > 0 for optim=nesterov"))

OPTIMIZERS: dict[str, Option] = {
    "sgd": Option(impl="torch.optim:SGD", knobs=("lr", "weight_decay")),
    "momentum": Option(impl="torch.optim:SGD", knobs=("lr", "momentum", "weight_decay", "dampening"),
                       fixed={"nesterov": False}),
    "nesterov": Option(impl="torch.optim:SGD", knobs=("lr", "momentum", "weight_decay"), fixed={"nesterov": True},
                       constraints=(_NESTEROV_NEEDS_MOMENTUM,)),
    "adagrad": Option(impl="torch.optim:Adagrad", knobs=("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")),
    "rmsprop": Option(impl="torch.optim:RMSprop", knobs=("lr", "alpha", "eps", "momentum", "centered", "weight_decay")),
    "adam": Option(impl="torch.optim:Adam", knobs=("lr", "betas", "eps", "weight_decay", "amsgrad")),
    "adamw": Option(impl="torch.optim:AdamW", knobs=("lr", "betas", "eps", "weight_decay", "amsgrad")),
}

OPTIM = Group("optim", OPTIMIZERS, OPTIM_KNOBS, common=("clip.norm", "clip.value"), constraints=(
    Constraint(Rule(lambda v: v.get("norm") is None or v.get("value") is None,
                    "at most one of optim.clip.norm and optim.clip.value set (null = off)"), where="clip"),))


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
    cls = load_object(lookup(OPTIMIZERS, "optimizer", cfg_optim["name"]).impl)
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
