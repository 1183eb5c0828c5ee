"""Transfer learning: `init=checkpoint` loads weights from a run folder or a file into a
freshly built model (non-strict, reporting what matched), leaves tensors whose shape
changed (a new head) at their fresh init, and freezes modules matched by name patterns.

Files are checked against their SHA-256 sidecar, then read with torch.load(weights_only=True):
tensors and plain containers only, never arbitrary pickled code. A file that is not a
readable state dict raises one error naming it.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from dlrun.training.checkpoint_files import recorded_path, verify_checksum
from dlrun.base.errors import CheckpointError  # noqa: F401 - raised here, and imported from here by callers

log = logging.getLogger("dlrun")

# A Lightning checkpoint of dlrun's TaskModule stores the network under this attribute.
TASK_MODEL_PREFIX = "model."


@dataclass
class LoadReport:
    source: Path
    loaded: list = field(default_factory=list)
    reshaped: dict = field(default_factory=dict)  # name -> (checkpoint shape, model shape)
    missing: list = field(default_factory=list)  # in the model, not in the checkpoint
    unused: list = field(default_factory=list)  # in the checkpoint, not in the model
    frozen: list = field(default_factory=list)  # module names


def resolve_checkpoint(path, which: str) -> Path:
    """The checkpoint file for `path`: itself if a file; for a run folder, the one its
    summary.json names as `{which}_checkpoint`, else checkpoints/{which}.ckpt."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"init.path={str(path)!r}: no such run folder or checkpoint file")
    candidates = []
    summary = path / "summary.json"
    if summary.is_file():
        try:
            recorded = json.loads(summary.read_text())
        except (ValueError, OSError):  # a damaged summary.json: the checkpoint by its usual name
            recorded = {}
        named = recorded_path(path, recorded.get(f"{which}_checkpoint")) if isinstance(recorded, dict) else None
        candidates += [named] if named else []
    candidates.append(path / "checkpoints" / f"{which}.ckpt")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"init.path={str(path)!r}: run folder has no {which} checkpoint "
                          f"(looked for {', '.join(map(str, candidates))})")


def checkpoint_problems(cfg_init) -> list:
    """For init=checkpoint, at validation: the file init.path means is there and matches its
    checksum (reading it is the run's: that needs torch)."""
    if cfg_init.get("name") != "checkpoint":
        return []
    try:
        verify_checksum(resolve_checkpoint(cfg_init["path"], cfg_init.get("which", "best")))
    except CheckpointError as error:
        return [str(error)]
    return []


def unsafe_global(error: Exception):
    """The module.name a refused pickle would have imported (posix.system, ...), or None."""
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    return found.group(1) if found else None


def load_reason(error: Exception) -> str:
    """One line saying why torch.load refused a file (never torch's advice to load it unsafely)."""
    name = unsafe_global(error)
    if name:
        return (f"refused: loading it would import {name}, which can run code; dlrun loads checkpoints of "
                "tensors and plain data only")
    text = str(error).strip()
    if "weights only load failed" in text.lower() or "WeightsUnpickler error:" in text:
        # torch's long weights_only message: keep its reason, drop the advice to turn the check off
        reason = text.split("WeightsUnpickler error:", 1)[-1].split("Check the documentation")[0]
        reason = reason.split("arbitrary code execution.")[-1].replace("Do it only if you got the file from a "
                                                                        "trusted source.", "")
        return "holds objects that weights_only loading refuses: " + " ".join(reason.split()[:40])
    return (text.splitlines() or [type(error).__name__])[0]


def read_weights_only(path, mmap: bool = False):
    """torch.load of a checkpoint that matches its checksum: tensors and plain data only
    (CheckpointError on a checksum mismatch; load errors propagate for load_reason)."""
    import torch

    verify_checksum(path)
    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)


def load_state_dict(path) -> dict:
    """{name: tensor} from a Lightning .ckpt (network prefix stripped), a {'state_dict': ...}
    file, or a plain state_dict file."""
    import torch

    path = Path(path)
    try:
        content = read_weights_only(path)
    except CheckpointError:
        raise
    except Exception as error:  # corrupt, truncated, or pickled objects weights_only refuses
        raise CheckpointError(f"cannot read weights from {path}: {load_reason(error)} "
                              "(expected a Lightning .ckpt or a torch.save'd state_dict)") from error
    lightning = isinstance(content, dict) and "pytorch-lightning_version" in content
    state = content.get("state_dict", content) if isinstance(content, dict) else content
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path} holds no state_dict (a mapping of parameter names to tensors)")
    if lightning:
        state = {name.removeprefix(TASK_MODEL_PREFIX): tensor for name, tensor in state.items()}
    return state


def load_matching(model, state: dict, source: Path) -> LoadReport:
    """Copy every tensor whose name and shape match; report the rest."""
    report = LoadReport(source)
    own = model.state_dict()
    matched = {}
    for name, tensor in state.items():
        if name not in own:
            report.unused.append(name)
        elif tuple(tensor.shape) != tuple(own[name].shape):
            report.reshaped[name] = (tuple(tensor.shape), tuple(own[name].shape))
        else:
            matched[name] = tensor
    if not matched:
        raise CheckpointError(f"no tensor in {source} matches the model: checkpoint has "
                              f"{', '.join(sorted(state)[:8])}...; model has {', '.join(sorted(own)[:8])}...")
    model.load_state_dict(matched, strict=False)
    report.loaded = sorted(matched)
    report.missing = sorted(name for name in own if name not in state)
    return report


def freeze_modules(model, patterns) -> list:
    """requires_grad False on every parameter of modules whose name matches a pattern
    (fnmatch); their norm layers stop updating running statistics. Returns the names."""
    from torch import nn

    names = [name for name, _ in model.named_modules() if name]
    frozen = []
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)
        if not hits:
            raise CheckpointError(f"init.freeze pattern {pattern!r} matches no module; modules: {', '.join(names)}")
        frozen += [name for name in hits if name not in frozen]
    modules = dict(model.named_modules())
    for name in frozen:
        for parameter in modules[name].parameters():
            parameter.requires_grad_(False)
        for module in modules[name].modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = 0.0  # running mean/var stay as loaded
    return frozen


def init_from_checkpoint(model, cfg_init) -> LoadReport:
    source = resolve_checkpoint(cfg_init["path"], cfg_init["which"])
    report = load_matching(model, load_state_dict(source), source)
    report.frozen = freeze_modules(model, cfg_init["freeze"])
    log.info("init=checkpoint: loaded %d of %d tensors from %s", len(report.loaded),
             len(report.loaded) + len(report.reshaped) + len(report.missing), source)
    for name, (theirs, ours) in report.reshaped.items():
        log.info("  %s: shape %s in the checkpoint, %s here: keeps its fresh init", name, theirs, ours)
    if report.missing:
        log.info("  not in the checkpoint (fresh init): %s", ", ".join(report.missing))
    if report.unused:
        log.info("  in the checkpoint, not in the model (ignored): %s", ", ".join(report.unused))
    if report.frozen:
        log.info("  frozen: %s", ", ".join(report.frozen))
    return report
