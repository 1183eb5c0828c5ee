"""Init schemes: the measured std of large layers matches each scheme's formula; biases
go to zero; recurrent weights are filled gate by gate; LSTM forget-gate bias (constant,
chrono). Knob values come from the real composed configs."""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import pytest
import torch
from torch import nn

from dlrun.config.compose import compose
from dlrun.recipe.init_schemes import FILLS, apply_init
from dlrun.config.validate import ConfigError, validate

GAINS = {"relu": math.sqrt(2), "tanh": 5 / 3, "linear": 1.0}


class Fans(NamedTuple):
    fan_in: int  # inputs per output unit (in_channels * kernel area for a conv)
    fan_out: int  # outputs per input unit (out_channels * kernel area)
    rows: int  # output units: the weight seen as a (rows, fan_in) matrix


def _kaiming_std(c, f):
    gain = math.sqrt(2 / (1 + c.negative_slope ** 2)) if c.nonlinearity == "leaky_relu" else GAINS[c.nonlinearity]
    return gain / math.sqrt(f.fan_in if c.mode == "fan_in" else f.fan_out)


# name -> std(cfg, fans) of one weight. A new scheme needs a line here.
STD_FORMULAS = {
    "default": lambda c, f: 1 / math.sqrt(3 * f.fan_in),  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    "normal": lambda c, f: c.std,
    "uniform": lambda c, f: c.a / math.sqrt(3),
    "xavier": lambda c, f: c.gain * math.sqrt(2 / (f.fan_in + f.fan_out)),
    "kaiming": _kaiming_std,
    "lecun": lambda c, f: 1 / math.sqrt(f.fan_in),
    # orthonormal rows (or columns) of the (rows, fan_in) matrix: mean square 1 / the longer side
    "orthogonal": lambda c, f: c.gain / math.sqrt(max(f.fan_in, f.rows)),
}

CASES = [(name, []) for name in sorted(FILLS)] + [
    ("xavier", ["init.distribution=normal", "init.gain=2.0"]),
    ("kaiming", ["init.mode=fan_out", "init.nonlinearity=tanh", "init.distribution=uniform"]),
    ("kaiming", ["init.nonlinearity=leaky_relu", "init.negative_slope=0.2"]),
    ("lecun", ["init.distribution=uniform"]),
    ("orthogonal", ["init.gain=0.5"]),
]


def _init_cfg(name, *overrides):
    return compose([f"init={name}", *overrides]).init


def test_every_fill_scheme_has_a_std_formula():
    """Each YAML against its declaration: tests/test_declarations.py; here, the measured stds."""
    assert set(STD_FORMULAS) == set(FILLS)


@pytest.mark.parametrize("name, overrides", CASES, ids=lambda v: v if isinstance(v, str) else ",".join(v))
def test_measured_weight_std_matches_the_formula(name, overrides):
    torch.manual_seed(0)
    cfg = _init_cfg(name, *overrides)
    model = nn.Sequential(nn.Linear(1024, 512), nn.Conv2d(64, 128, kernel_size=3))
    apply_init(model, cfg)
    for layer, fans in zip(model, [Fans(1024, 512, 512), Fans(64 * 9, 128 * 9, 128)]):
        expected = STD_FORMULAS[name](cfg, fans)
        measured = layer.weight.std().item()
        assert measured == pytest.approx(expected, rel=0.03), f"{type(layer).__name__}: {measured} vs {expected}"
        biases_zero = bool((layer.bias == 0).all())
        assert biases_zero == cfg.zero_bias


def test_orthogonal_rows_are_orthonormal():
    layer = nn.Linear(300, 200)
    apply_init(layer, _init_cfg("orthogonal", "init.gain=2.0"))
    torch.testing.assert_close(layer.weight @ layer.weight.T, 4.0 * torch.eye(200), atol=1e-4, rtol=0)


def test_lstm_weights_are_filled_gate_by_gate():
    """A stacked (4H, in) LSTM weight is four (H, in) matrices: xavier must use fan_out = H."""
    torch.manual_seed(0)
    hidden, inputs = 256, 64
    lstm = nn.LSTM(inputs, hidden, num_layers=2)
    apply_init(lstm, _init_cfg("xavier", "init.distribution=normal"))
    for name, fan_in in [("weight_ih_l0", inputs), ("weight_hh_l0", hidden), ("weight_ih_l1", hidden)]:
        for gate in getattr(lstm, name).chunk(4):
            assert gate.std().item() == pytest.approx(math.sqrt(2 / (fan_in + hidden)), rel=0.05), name
    for name, parameter in lstm.named_parameters():
        if "bias" in name:
            assert (parameter == 0).all(), name


@pytest.mark.parametrize("cls, gates", [(nn.LSTM, 4), (nn.GRU, 3), (nn.RNN, 1)])
def test_orthogonal_recurrent_weights_are_orthogonal_per_gate(cls, gates):
    hidden = 32
    rnn = cls(16, hidden)
    apply_init(rnn, _init_cfg("orthogonal"))
    for gate in rnn.weight_hh_l0.chunk(gates):
        torch.testing.assert_close(gate @ gate.T, torch.eye(hidden), atol=1e-5, rtol=0)


def test_constant_forget_gate_bias():
    hidden = 16
    lstm = nn.LSTM(8, hidden, num_layers=2, bidirectional=True)
    apply_init(lstm, _init_cfg("xavier", "init.forget_bias=1.0"))
    for name, bias in lstm.named_parameters():
        if name.startswith("bias_ih"):
            expected = torch.zeros(4 * hidden)
            expected[hidden:2 * hidden] = 1.0  # gate order: input, forget, cell, output
            torch.testing.assert_close(bias.detach(), expected)
        elif name.startswith("bias_hh"):
            assert (bias == 0).all(), name  # the gate sees bias_ih + bias_hh


def test_chrono_forget_gate_bias():
    torch.manual_seed(0)
    hidden, t_max = 2000, 50
    cell = nn.LSTMCell(8, hidden)
    apply_init(cell, _init_cfg("default", "init.forget_bias=chrono", f"init.chrono_t_max={t_max}"))
    forget = cell.bias_ih[hidden:2 * hidden].detach()
    assert forget.min() >= 0 and forget.max() <= math.log(t_max - 1)
    # exp(b_f) ~ U(1, T_max - 1): its mean is T_max / 2
    assert forget.exp().mean().item() == pytest.approx(t_max / 2, rel=0.05)
    torch.testing.assert_close(cell.bias_ih[:hidden].detach(), -forget)
    assert (cell.bias_hh[:2 * hidden] == 0).all()


def test_forget_bias_without_an_lstm_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="dlrun"):
        apply_init(nn.GRU(4, 8), _init_cfg("xavier", "init.forget_bias=1.0"))
    assert "init.forget_bias=1.0 has no effect" in caplog.text


def test_default_keeps_pytorch_biases():
    torch.manual_seed(0)
    layer = nn.Linear(100, 100)
    before = layer.bias.detach().clone()
    apply_init(layer, _init_cfg("default"))
    torch.testing.assert_close(layer.bias.detach(), before)


@pytest.mark.parametrize("overrides, message", [
    (["init=xavier", "init.forget_bias=big"], r"init\.forget_bias='big'"),
    (["init=kaiming", "init.nonlinearity=swish"], r"init\.nonlinearity='swish'"),
    (["init=normal", "init.std=0"], r"init\.std=0"),
    (["init=checkpoint"], r"init\.path='\?\?\?'.*init\.path=\.\.\."),
])
def test_bad_init_knobs_are_rejected_with_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose(overrides))
