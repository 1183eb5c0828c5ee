"""A run folder's checkpoints for `dlrun resume` and `dlrun eval`: which file best, last
or a path means; reading it safely (its SHA-256 checked against the sidecar the run wrote, then torch.load
with weights_only: tensors and plain containers, never pickled code; memory-mapped);
and checking that it fits the model it is meant for. Every problem is a CheckpointError
whose message names the file and what is wrong."""

from __future__ import annotations

import zipfile
from pathlib import Path

from dlrun.recipe.transfer import TASK_MODEL_PREFIX, CheckpointError, load_reason, read_weights_only, unsafe_global

NAMED = ("best", "last")


def checkpoint_file(run_dir, which: str) -> Path:
    """checkpoints/{which}.ckpt for best / last, else `which` as a path (from the working
    folder, else from the run folder)."""
    path = Path(run_dir) / "checkpoints" / f"{which}.ckpt" if which in NAMED else Path(which)
    if which not in NAMED and not path.is_file() and not path.is_absolute() and (Path(run_dir) / path).is_file():
        path = Path(run_dir) / path
    if not path.is_file():
        found = sorted(p.name for p in (Path(run_dir) / "checkpoints").glob("*.ckpt"))
        raise CheckpointError(f"ckpt={which}: no checkpoint file {path} "
                              f"(this run has: {', '.join(found) or 'no checkpoints'}; use best, last or a path)")
    return path


def read_checkpoint(path) -> dict:
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; its index is at the end
        raise CheckpointError(f"{path}: corrupt or not a checkpoint (not a torch.save archive; truncated?)")
    try:
        content = read_weights_only(path, mmap=True)
    except CheckpointError:
        raise
    except Exception as error:  # corrupt members, or pickled objects
        if unsafe_global(error):
            raise CheckpointError(f"{path}: {load_reason(error)}") from None
        raise CheckpointError(f"{path}: corrupt or not a checkpoint ({load_reason(error)})") from None
    if not isinstance(content, dict) or not isinstance(content.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict in it)")
    return content


def require_training_state(content: dict, path) -> None:
    """A checkpoint to resume from needs the loops and optimizer, not only weights."""
    missing = [key for key in ("loops", "optimizer_states") if key not in content]
    if missing:
        raise CheckpointError(f"{path}: holds weights only (no {', '.join(missing)}), so training cannot resume "
                              "from it; start a new run from its weights with init=checkpoint")


def mismatches(state: dict, own: dict) -> list:
    """What differs between a checkpoint's tensors and a module's: names and shapes."""
    problems = [f"{name}: checkpoint {tuple(state[name].shape)}, model {tuple(own[name].shape)}"
                for name in own if name in state and tuple(state[name].shape) != tuple(own[name].shape)]
    missing = [name for name in own if name not in state]
    unexpected = [name for name in state if name not in own]
    if missing:
        problems.append(f"missing from the checkpoint: {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        problems.append(f"not in the model: {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
    return problems


def check_fits(content: dict, network, path) -> None:
    """The checkpoint's network tensors match `network` (the TaskModule's `model`) exactly."""
    state = {name.removeprefix(TASK_MODEL_PREFIX): tensor for name, tensor in content["state_dict"].items()
             if name.startswith(TASK_MODEL_PREFIX)}
    problems = mismatches(state, network.state_dict())
    if problems:
        raise CheckpointError(f"{path} does not fit the model of this config (was model.* overridden?): "
                              + "; ".join(problems[:4]))


def trained_spec(run_dir):
    """The DataSpec the run in `run_dir` trained with (from its summary.json), or None."""
    from dlrun.data.spec import DataSpec
    from dlrun.training.summary import read_summary

    try:
        spec = read_summary(run_dir).get("spec")
    except FileNotFoundError:
        return None
    return DataSpec(**{**spec, "input_shape": tuple(spec["input_shape"])}) if spec else None
