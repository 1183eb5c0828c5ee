"""The network's output on one real batch, checked before training starts.

A model whose output does not fit the data (6 logits for a 3-class dataset, a sequence
model that drops the positions, a regression head of the wrong width) can still train:
cross-entropy takes any number of logits, a view reshapes a regression output. The run then
ends `completed` with meaningless metrics. One forward pass on a few training samples,
compared with the DataSpec, turns that into a config error (exit 2, one line, expected vs
got) before the first step; so does an output that is already NaN or infinite."""

from __future__ import annotations

from dlrun.base.errors import ConfigError

# Samples of the training split the check runs: enough for a batch dimension, cheap for any model.
CHECKED_SAMPLES = 2


def first_samples(split, count: int = CHECKED_SAMPLES):
    """(inputs, targets) of the first `count` samples of a split: preloaded tensors, or a
    Dataset collated the way its DataLoader does."""
    import torch

    if isinstance(split, tuple):
        return split[0][:count], split[1][:count]
    loader = torch.utils.data.DataLoader(split, batch_size=min(count, len(split)), shuffle=False, num_workers=0)
    return next(iter(loader))


def expected_shape(spec, targets) -> tuple:
    """The output shape a model must give for these targets."""
    if spec.task == "regression":
        return (len(targets), spec.target_dim)
    return tuple(targets.shape) + (spec.num_classes,)  # classification: (N, C); sequence: (N, T, C)


def _fits(spec, shape: tuple, expected: tuple) -> bool:
    if spec.task == "regression" and spec.target_dim == 1:
        return shape in (expected, expected[:1])  # (N, 1) or (N,): both score the same targets
    return shape == expected


def _what(spec) -> str:
    if spec.task == "regression":
        return f"{spec.target_dim} regression target(s)"
    per = " per position" if spec.task == "sequence" else ""
    return f"{spec.num_classes} classes{per}"


def output_problem(model, spec, inputs, targets):
    """One line saying how the model's output on `inputs` does not fit the data, or None."""
    import torch

    was_training = model.training
    model.eval()  # no dropout, batch norm's running statistics left alone
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):  # the run's random stream stays as seeded
            outputs = model(inputs)
    finally:
        model.train(was_training)
    name = type(model).__name__
    if not isinstance(outputs, torch.Tensor):
        return f"model {name}: its forward returns {type(outputs).__name__}, expected one tensor of logits/predictions"
    expected, got = expected_shape(spec, targets), tuple(outputs.shape)
    if not _fits(spec, got, expected):
        return (f"model {name}: output shape {got} on a batch of {len(inputs)} from the data ({spec.describe()}, "
                f"{_what(spec)}); expected {expected}")
    if not torch.isfinite(outputs).all():
        bad = "nan" if torch.isnan(outputs).any() else "inf"
        return f"model {name}: its output holds {bad} on a batch of the training data before any training step"
    return None


def check_model_output(model, datamodule) -> None:
    """ConfigError (one line, expected vs got) when `model`'s output on the first training
    samples does not fit `datamodule`'s DataSpec or is not finite."""
    datamodule.setup()
    inputs, targets = first_samples(datamodule.splits.train)
    problem = output_problem(model, datamodule.spec, inputs, targets)
    if problem:
        raise ConfigError([problem])
