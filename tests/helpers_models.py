"""User-style models for tests, reached through `model._target_=helpers_models.NAME`
(tests/ is on PYTHONPATH for CLI subprocesses and on sys.path under pytest)."""

from __future__ import annotations

import math

from torch import nn


class ExplodingNet(nn.Module):
    """Trains normally until `fail_at_step` forward passes, then raises: a run that dies mid-way."""

    def __init__(self, spec, fail_at_step: int = 3, **other_knobs):  # the built-in model's knobs it is laid over
        super().__init__()
        self.fail_at_step = fail_at_step
        self.calls = 0
        self.linear = nn.Linear(math.prod(spec.input_shape), spec.output_dim)

    def forward(self, x):
        self.calls += 1
        if self.calls > self.fail_at_step:
            raise RuntimeError(f"ExplodingNet: deliberate failure at forward call {self.calls}")
        return self.linear(x.flatten(1))
