"""A user's own data: `data._target_: package.module.function` (or a class) and its knobs.

The callable is called with its knobs as keyword arguments (and `seed=` the data seed, data.seed, if
it takes a `seed` parameter). It returns arrays or tensors:

    (x, y)                                   dlrun splits them by data.val_fraction / test_fraction
    {"train": (x, y), "test": (x, y)}        val is split off train by data.val_fraction
    {"train": ..., "val": ..., "test": ...}  used as they are

The DataSpec is inferred from the training inputs and targets (the first dimension is
the sample):

    x floating (N, F)          -> vector, input_shape (F,)
    x floating (N, H, W)       -> image with one channel, input_shape (1, H, W)
    x floating (N, C, H, W)    -> image, input_shape (C, H, W)
    x integer  (N, T)          -> tokens, input_shape (T,), vocab_size = largest id + 1
    y integer  (N,)            -> classification, num_classes = largest label + 1 (at least 2)
    y integer  (N, T)          -> sequence (a label per position; -100 marks positions not scored)
    y floating (N,) or (N, D)  -> regression, target_dim 1 or D

data.modality, data.task, data.num_classes and data.vocab_size, when set, override the
inference (e.g. modality: vector for integer features, task: regression for integer targets).
Wrong shapes or types are a ConfigError naming what was expected.
"""

from __future__ import annotations

import torch

from dlrun.data.custom_checks import own_data_knobs
from dlrun.data.spec import IGNORE, DataSpec
from dlrun.data.splits import Splits, tensor_splits
from dlrun.base.errors import ConfigError

SPLIT_SETS = ({"train"}, {"train", "test"}, {"train", "val", "test"})
EXPECTED_INPUTS = "(N, features) floats, (N, H, W) or (N, C, H, W) float images, or (N, T) integer tokens"
EXPECTED_TARGETS = "(N,) integer labels, (N, T) integer labels per position, or (N,) / (N, D) floats"


def _what(value) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}" if shape is not None else type(value).__name__


def _is_integer(tensor) -> bool:
    return not tensor.dtype.is_floating_point and not tensor.dtype.is_complex and tensor.dtype != torch.bool


def _tensor(value, target: str, role: str, where: str):
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):  # strings, ragged lists, object arrays
        tensor = None
    if tensor is None or tensor.dtype.is_complex:
        expected = EXPECTED_INPUTS if role == "inputs" else EXPECTED_TARGETS
        raise ConfigError([f"data._target_={target} returned {where} {role} as {_what(value)}; expected "
                           f"numbers: {expected}"])
    return tensor


def _pair(value, target: str, where: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError([f"data._target_={target} returned {where} as {_what(value)}; expected an (x, y) pair "
                           "of arrays or tensors"])
    inputs, targets = (_tensor(part, target, role, where) for part, role in zip(value, ("inputs", "targets")))
    if inputs.ndim < 1 or targets.ndim < 1 or len(inputs) != len(targets) or len(inputs) == 0:
        raise ConfigError([f"data._target_={target} returned {where} inputs of shape {tuple(inputs.shape)} and "
                           f"targets of shape {tuple(targets.shape)}; expected the same number N >= 1 of samples "
                           "(first dimension) in both"])
    return inputs, targets


def returned_splits(value, target: str) -> dict:
    """{"train": (x, y)[, "val": ..., "test": ...]} as tensors from what the callable returned."""
    if isinstance(value, dict):
        if set(value) not in SPLIT_SETS:
            raise ConfigError([f"data._target_={target} returned a dict with keys {sorted(value)}; expected "
                               "train; train and test; or train, val and test"])
        return {name: _pair(pair, target, f"the {name} split") for name, pair in value.items()}
    return {"train": _pair(value, target, "its data")}


def _modality(inputs, declared, target: str) -> str:
    integer = _is_integer(inputs)
    modality = declared or ("tokens" if integer else {2: "vector", 3: "image", 4: "image"}.get(inputs.ndim))
    fits = {"vector": inputs.ndim == 2, "image": inputs.ndim in (3, 4), "tokens": integer and inputs.ndim == 2}
    if not fits.get(modality, False):
        said = f" for data.modality={modality}" if declared else ""
        raise ConfigError([f"data._target_={target} returned inputs of shape {tuple(inputs.shape)} and dtype "
                           f"{inputs.dtype}{said}; expected {EXPECTED_INPUTS}"])
    return modality


def _task(targets, declared, target: str) -> str:
    floating = targets.dtype.is_floating_point
    task = declared or ("regression" if floating else {1: "classification", 2: "sequence"}.get(targets.ndim))
    dims_allowed = {"classification": (1,), "sequence": (2,), "regression": (1, 2)}.get(task, ())
    integral = not floating or bool((targets == targets.round()).all())
    if targets.ndim not in dims_allowed or (task != "regression" and not integral):
        said = f" for data.task={task}" if declared else ""
        raise ConfigError([f"data._target_={target} returned targets of shape {tuple(targets.shape)} and dtype "
                           f"{targets.dtype}{said}; expected {EXPECTED_TARGETS}"])
    return task


def _converted(pair, modality: str, task: str) -> tuple:
    """Inputs as float32 (vector, image with a channel dimension) or int64 (tokens); targets as
    int64 labels or float32 values."""
    inputs, targets = pair
    inputs = inputs.long() if modality == "tokens" else inputs.to(torch.float32)
    if modality == "image" and inputs.ndim == 3:
        inputs = inputs.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    targets = targets.to(torch.float32) if task == "regression" else targets.long()
    return inputs.contiguous(), targets.contiguous()


def _count(values, declared, key: str, target: str, what: str) -> int:
    """num_classes / vocab_size: declared, or the largest value + 1; every value must be below it."""
    scored = values[values != IGNORE] if key == "num_classes" else values
    low, high = (int(scored.min()), int(scored.max())) if scored.numel() else (0, 0)
    count = declared or max(high + 1, 2 if key == "num_classes" else 1)
    if low < 0 or high >= count:
        raise ConfigError([f"data._target_={target} returned {what} from {low} to {high}; expected 0 to "
                           f"{count - 1}" + (f" (data.{key}={declared})" if declared else "")
                           + (f", or {IGNORE} for a position not scored" if key == "num_classes" else "")])
    return count


def infer_spec(splits: dict, modality: str, task: str, cfg_data, target: str) -> DataSpec:
    """The DataSpec of converted splits, by the rule in this module's docstring."""
    inputs, targets = splits["train"]
    every_input = [pair[0] for pair in splits.values()]
    every_target = [pair[1] for pair in splits.values()]
    sizes = {}
    if modality == "tokens":
        sizes["vocab_size"] = max(_count(x, cfg_data.get("vocab_size"), "vocab_size", target, "token ids")
                                  for x in every_input)
    if task == "regression":
        sizes["target_dim"] = 1 if targets.ndim == 1 else targets.shape[1]
    else:
        sizes["num_classes"] = max(_count(y, cfg_data.get("num_classes"), "num_classes", target, "labels")
                                   for y in every_target)
    return DataSpec(modality, task, tuple(inputs.shape[1:]), **sizes)


def _same_shapes(splits: dict, target: str) -> None:
    reference = {role: tuple(tensor.shape[1:]) for role, tensor in zip(("inputs", "targets"), splits["train"])}
    for name, pair in splits.items():
        for role, tensor in zip(("inputs", "targets"), pair):
            if tuple(tensor.shape[1:]) != reference[role]:
                raise ConfigError([f"data._target_={target} returned {name} {role} of sample shape "
                                   f"{tuple(tensor.shape[1:])}; expected {reference[role]} as in the train split"])


def load(cfg_data, seed: int):
    """Call the user's data callable and split what it returns (dlrun.data.splits.Splits)."""
    from omegaconf import DictConfig, OmegaConf

    from dlrun.base.user_code import call_target

    if isinstance(cfg_data, DictConfig):
        cfg_data = OmegaConf.to_container(cfg_data, resolve=True)
    target = cfg_data["_target_"]
    raw = returned_splits(call_target("data", target, own_data_knobs(cfg_data), offers={"seed": seed}), target)
    modality = _modality(raw["train"][0], cfg_data.get("modality"), target)
    task = _task(raw["train"][1], cfg_data.get("task"), target)
    splits = {name: _converted(pair, modality, task) for name, pair in raw.items()}
    _same_shapes(splits, target)
    spec = infer_spec(splits, modality, task, cfg_data, target)
    if "val" in splits:
        return Splits(spec, splits["train"], splits["val"], splits["test"])
    return tensor_splits(spec, *splits["train"], cfg_data, seed, test=splits.get("test"))
