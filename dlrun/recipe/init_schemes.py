"""Weight initialisation schemes over one table: apply_init(model, cfg) re-initialises in place.

A fill scheme fills every weight matrix the fan formulas talk about: Linear and Conv
kernels whole; recurrent (LSTM / GRU / RNN) and attention input projections block by
block, because such a weight stacks one matrix per gate (LSTM: input, forget, cell,
output) and each block feeds its own units, so fan-out is the hidden size, not four times
it. Embeddings and norm layers keep PyTorch's init. Then, with `zero_bias`, biases go to
zero, and `forget_bias` sets an LSTM's forget gate: a constant, or "chrono" (Tallec &
Ollivier 2018): b_f = log U(1, chrono_t_max - 1) per unit, b_i = -b_f.
`init=checkpoint` loads weights instead (dlrun/recipe/transfer.py).
Each scheme declares its knobs once in INITS (defaults in conf/init/NAME.yaml).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dlrun.base.options import Group, Knob, Option, load_object, lookup
from dlrun.base.rules import BOOLEAN, NAMES, Rule, existing_path, integer, is_number, number, one_of

log = logging.getLogger("dlrun")

CHRONO = "chrono"
# gates stacked in a recurrent weight, by the module's `mode` (nn.LSTM / GRU / RNN)
GATES_BY_MODE = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _normal(tensor, cfg):
    from torch import nn

    nn.init.normal_(tensor, mean=0.0, std=cfg["std"])


def _uniform(tensor, cfg):
    from torch import nn

    nn.init.uniform_(tensor, -cfg["a"], cfg["a"])


def _xavier(tensor, cfg):
    from torch import nn

    fill = nn.init.xavier_uniform_ if cfg["distribution"] == "uniform" else nn.init.xavier_normal_
    fill(tensor, gain=cfg["gain"])


def _kaiming(tensor, cfg):
    from torch import nn

    fill = nn.init.kaiming_uniform_ if cfg["distribution"] == "uniform" else nn.init.kaiming_normal_
    fill(tensor, a=cfg["negative_slope"], mode=cfg["mode"], nonlinearity=cfg["nonlinearity"])


def _lecun(tensor, cfg):
    """std = 1 / sqrt(fan_in): Kaiming with the linear gain."""
    from torch import nn

    fill = nn.init.kaiming_uniform_ if cfg["distribution"] == "uniform" else nn.init.kaiming_normal_
    fill(tensor, mode="fan_in", nonlinearity="linear")


def _orthogonal(tensor, cfg):
    from torch import nn

    nn.init.orthogonal_(tensor, gain=cfg["gain"])


def _gate_count(module, parameter_name: str) -> int:
    """How many matrices are stacked along dim 0 of this weight (1 for a plain layer)."""
    from torch import nn

    if isinstance(module, nn.RNNBase) and parameter_name.startswith(("weight_ih", "weight_hh")):
        return GATES_BY_MODE[module.mode]
    cells = {nn.LSTMCell: 4, nn.GRUCell: 3, nn.RNNCell: 1}
    if type(module) in cells and parameter_name in ("weight_ih", "weight_hh"):
        return cells[type(module)]
    if isinstance(module, nn.MultiheadAttention) and parameter_name == "in_proj_weight":
        return 3  # query, key, value
    return 1


def _weights_and_biases(model):
    """([(weight, gates)], [bias]) of the layers a scheme re-initialises."""
    from torch import nn
    from torch.nn.modules.conv import _ConvNd

    layer_types = (nn.Linear, _ConvNd, nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention)
    weights, biases = [], []
    for module in model.modules():
        if not isinstance(module, layer_types):
            continue
        for name, parameter in module.named_parameters(recurse=False):
            if "bias" in name:
                biases.append(parameter)
            elif parameter.ndim >= 2:
                weights.append((parameter, _gate_count(module, name)))
    return weights, biases


def _lstm_biases(model):
    """[(bias_ih, bias_hh, hidden_size)] for every LSTM layer and direction."""
    from torch import nn

    found = []
    for module in model.modules():
        if isinstance(module, (nn.LSTM, nn.LSTMCell)) and module.bias:
            named = dict(module.named_parameters(recurse=False))
            for name in named:
                if name.startswith("bias_ih"):
                    found.append((named[name], named[name.replace("bias_ih", "bias_hh")], module.hidden_size))
    return found


def set_forget_bias(model, forget_bias, chrono_t_max: int) -> int:
    """Set the LSTM forget-gate bias (gate order i, f, g, o); returns the LSTM layers touched.
    The whole value goes into bias_ih; the matching slice of bias_hh is zeroed, since the
    gate sees their sum."""
    import torch

    layers = _lstm_biases(model)
    with torch.no_grad():
        for bias_ih, bias_hh, hidden in layers:
            forget, input_gate = slice(hidden, 2 * hidden), slice(0, hidden)
            bias_hh[forget] = 0.0
            if forget_bias == CHRONO:
                values = torch.log(torch.empty(hidden).uniform_(1.0, chrono_t_max - 1.0))
                bias_ih[forget], bias_ih[input_gate], bias_hh[input_gate] = values, -values, 0.0
            else:
                bias_ih[forget] = float(forget_bias)
    return len(layers)


def reinitialise(model, cfg):
    """Fill weights by the scheme, then biases and the LSTM forget gate."""
    import torch

    impl = INITS[cfg["name"]].impl
    fill = load_object(impl) if impl else None
    weights, biases = _weights_and_biases(model)
    with torch.no_grad():
        if fill is not None:
            for weight, gates in weights:
                for block in weight.chunk(gates, dim=0):  # views: filling a block fills the weight
                    fill(block, cfg)
        if cfg["zero_bias"]:
            for bias in biases:
                bias.zero_()
    if cfg["forget_bias"] is not None and not set_forget_bias(model, cfg["forget_bias"], cfg["chrono_t_max"]):
        log.warning("init.forget_bias=%s has no effect: the model has no LSTM layer", cfg["forget_bias"])


@dataclass(frozen=True, kw_only=True)
class InitOption(Option):
    # True: impl is fill(weight, cfg) for one weight matrix (None keeps PyTorch's per-layer
    # default), then the bias knobs apply; False: impl is apply(model, cfg) and does it all
    fills: bool = True


INIT_KNOBS = {
    "std": Knob(number(0, low_open=True), "standard deviation of the normal fill"),
    "a": Knob(number(0, low_open=True), "the uniform fill's bound: U(-a, a)"),
    "gain": Knob(number(0, low_open=True), "scale of the fill"),
    "distribution": Knob(one_of(("uniform", "normal")), "the fill's distribution"),
    "mode": Knob(one_of(("fan_in", "fan_out")), "fan_in keeps forward activations' scale, fan_out the gradients'"),
    "nonlinearity": Knob(one_of(("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu")),
                         "the nonlinearity whose gain the fill uses"),
    "negative_slope": Knob(number(0), "leaky_relu's slope (its gain)"),
    "zero_bias": Knob(BOOLEAN, "set every bias to zero"),
    "forget_bias": Knob(Rule(lambda v: v is None or v == CHRONO or is_number(v), f"null, a number or {CHRONO!r}"),
                        "LSTM forget-gate bias: null (leave), a number, or chrono"),
    "chrono_t_max": Knob(integer(3), "chrono's T_max: about the longest time lag to remember"),
    "path": Knob(Rule(lambda v: isinstance(v, str) and v != "???" and existing_path(v),
                      "an existing run folder or .ckpt/.pt file (init=checkpoint needs init.path=...)"),
                 "a run folder (its best or last checkpoint) or a .ckpt / .pt state_dict file"),
    "which": Knob(one_of(("best", "last")), "for a run folder: its best or last checkpoint"),
    "freeze": Knob(NAMES, "module-name patterns whose parameters stay fixed"),
}
BIAS_KNOBS = ("zero_bias", "forget_bias", "chrono_t_max")  # conf/init/bias/standard.yaml


def _fill(impl, *knobs: str) -> InitOption:
    return InitOption(impl=impl and f"dlrun.recipe.init_schemes:{impl}", knobs=knobs + BIAS_KNOBS)


INITS: dict[str, InitOption] = {
    "default": _fill(None),
    "normal": _fill("_normal", "std"),
    "uniform": _fill("_uniform", "a"),
    "xavier": _fill("_xavier", "distribution", "gain"),
    "kaiming": _fill("_kaiming", "mode", "nonlinearity", "negative_slope", "distribution"),
    "lecun": _fill("_lecun", "distribution"),
    "orthogonal": _fill("_orthogonal", "gain"),
    "checkpoint": InitOption(impl="dlrun.recipe.transfer:init_from_checkpoint", fills=False,
                             knobs=("path", "which", "freeze")),
}
FILLS = tuple(name for name, entry in INITS.items() if entry.fills)

INIT = Group("init", INITS, INIT_KNOBS)


def apply_init(model, cfg_init):
    """Re-initialise `model` in place by the named scheme and return it."""
    entry = lookup(INITS, "init", cfg_init["name"])
    (reinitialise if entry.fills else load_object(entry.impl))(model, cfg_init)
    return model
