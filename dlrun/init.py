"""Weight initialisation schemes over one table: init(model, cfg) re-initialises in place.

Applied to every Linear / Conv weight (the layers whose fan-in the formulas talk about);
biases go to zero when `zero_bias` is set. The framework default is the no-op entry.
"""

from __future__ import annotations

from dlrun.registry import lookup


def _layers(model):
    from torch import nn

    weighted = (nn.Linear, nn.Conv1d, nn.Conv2d)
    return [module for module in model.modules() if isinstance(module, weighted)]


def _zero_biases(model, cfg):
    if cfg.get("zero_bias", False):
        for layer in _layers(model):
            if layer.bias is not None:
                layer.bias.data.zero_()


def default(model, cfg):
    """Keep PyTorch's per-layer defaults."""


def xavier(model, cfg):
    from torch import nn

    fill = nn.init.xavier_uniform_ if cfg["distribution"] == "uniform" else nn.init.xavier_normal_
    for layer in _layers(model):
        fill(layer.weight, gain=cfg["gain"])
    _zero_biases(model, cfg)


def kaiming(model, cfg):
    from torch import nn

    fill = nn.init.kaiming_uniform_ if cfg["distribution"] == "uniform" else nn.init.kaiming_normal_
    for layer in _layers(model):
        fill(layer.weight, mode=cfg["mode"], nonlinearity=cfg["nonlinearity"])
    _zero_biases(model, cfg)


INITS = {
    "default": default,
    "xavier": xavier,
    "kaiming": kaiming,
}


def apply_init(model, cfg_init):
    """Re-initialise `model` in place by the named scheme and return it."""
    lookup(INITS, "init", cfg_init["name"])(model, cfg_init)
    return model
