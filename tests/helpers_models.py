"""User-style models for tests, reached through `model._target_=helpers_models.NAME`
(tests/ is on PYTHONPATH for CLI subprocesses and on sys.path under pytest)."""

from __future__ import annotations

import math

from torch import nn


class ExplodingNet(nn.Module):
    """Trains normally until `fail_at_step` training forward passes, then raises: a run that
    dies mid-way (evaluation passes, such as dlrun's output check before training, do not count)."""

    def __init__(self, spec, fail_at_step: int = 3, **other_knobs):  # the built-in model's knobs it is laid over
        super().__init__()
        self.fail_at_step = fail_at_step
        self.calls = 0
        self.linear = nn.Linear(math.prod(spec.input_shape), spec.output_dim)

    def forward(self, x):
        self.calls += self.training
        if self.training and self.calls > self.fail_at_step:
            raise RuntimeError(f"ExplodingNet: deliberate failure at forward call {self.calls}")
        return self.linear(x.flatten(1))


class WideNet(nn.Module):
    """A user's model with a head `extra` outputs wider than the data asks: trains, scores nothing."""

    def __init__(self, spec, extra: int = 3, **other_knobs):
        super().__init__()
        self.linear = nn.Linear(math.prod(spec.input_shape), spec.output_dim + extra)

    def forward(self, x):
        return self.linear(x.flatten(1))


class NanNet(nn.Module):
    """A user's model whose output is NaN from the start (a log of a negative number)."""

    def __init__(self, spec, **other_knobs):
        super().__init__()
        self.linear = nn.Linear(math.prod(spec.input_shape), spec.output_dim)

    def forward(self, x):
        return self.linear(x.flatten(1)) * float("nan")
