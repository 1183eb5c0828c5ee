"""summary.json: the run's contract with everything after it (sweeps, reports, tests).

Written when the run takes its folder (status `running`) and again at its end, completed or
not; `read_summary` is the one reader. A `running` summary whose owner is gone (kill -9, a
lost node) reads as `crashed`.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from dlrun import __version__
from dlrun.base import atomic
from dlrun.base.errors import BadInput
from dlrun.training.checkpoint_files import as_recorded, recorded_path
from dlrun.base.ownership import live_owner, read_owner

SUMMARY_FILE = "summary.json"
STATUSES = ("running", "completed", "failed", "interrupted", "diverged", "pruned", "crashed")


def _clean(value):
    """JSON-safe: NaN/inf become None, tensors become floats."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def new_summary(name: str, run_dir: Path, config: dict, objectives) -> dict:
    """`objectives`: the metric names (dlrun.recipe.metrics.objectives of the config's), the first
    the one that picks the checkpoint; or one name."""
    names = [objectives] if isinstance(objectives, str) else list(objectives)
    return {
        "status": "running",
        "name": name,
        "run_dir": str(run_dir),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "dlrun_version": __version__,
        "objective": {"metric": names[0], "value": None},
        # every objective's value once the run ends (objective_values); a sweep tells these
        "objectives": dict.fromkeys(names),
        "params": None,  # the model's parameter count
        "final": {},
        "best": {},
        "test": {},
        "best_checkpoint": None,
        "last_checkpoint": None,
        "global_step": 0,
        "epochs": 0,
        "wall_time_s": None,
        "error": None,
        "wandb": None,
        "spec": None,
        "config": config,
    }


# Files of the run named in the summary: stored relative to the run folder, so a copied or
# moved folder uses its own; read_summary (and dlrun.run) hand them back absolute.
FILE_FIELDS = ("best_checkpoint", "last_checkpoint")


def write_summary(summary: dict, run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    stored = dict(summary, **{field: as_recorded(run_dir, summary[field]) for field in FILE_FIELDS if summary.get(field)})
    # atomic: a reader never sees half a summary, a full disk keeps the previous one
    return atomic.write_text(run_dir / SUMMARY_FILE, json.dumps(_clean(stored), indent=2, sort_keys=False))


def with_absolute_paths(summary: dict, run_dir) -> dict:
    """The summary of the folder where it lies now: run_dir and its files absolute."""
    run_dir = Path(run_dir).resolve()
    paths = {field: str(recorded_path(run_dir, summary[field])) for field in FILE_FIELDS if summary.get(field)}
    return dict(summary, run_dir=str(run_dir), **paths)


class SummaryUnreadable(BadInput):
    """A summary.json that is not one (cut short, not JSON, not an object): one line naming it."""


def load_summary_file(path) -> dict:
    """summary.json's object as written; SummaryUnreadable (one line) for anything else."""
    try:
        summary = json.loads(Path(path).read_text())
    except UnicodeDecodeError:
        raise SummaryUnreadable(f"{path}: not a readable {SUMMARY_FILE} (not UTF-8 text); the run folder is "
                                "damaged") from None
    except json.JSONDecodeError as error:
        raise SummaryUnreadable(f"{path}: not a readable {SUMMARY_FILE} (invalid or cut-short JSON: {error.msg}, "
                                f"line {error.lineno}); the run folder is damaged") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("status"), str):
        what = f"a JSON {type(summary).__name__}" if not isinstance(summary, dict) else "an object without a status"
        raise SummaryUnreadable(f"{path}: not a dlrun {SUMMARY_FILE} ({what}); the run folder is damaged")
    return summary


def read_summary(run_dir) -> dict:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {SUMMARY_FILE} (is {run_dir} a dlrun run folder?)")
    summary = with_absolute_paths(load_summary_file(path), run_dir)
    if summary.get("status") == "running" and live_owner(run_dir) is None:
        owner = read_owner(run_dir)
        who = owner.describe() if owner else "its process"
        summary["status"] = "crashed"
        then = ("continues from the last checkpoint" if any((Path(run_dir) / "checkpoints").glob("*.ckpt"))
                else "starts it again from step 0 (it stopped before its first checkpoint)")
        summary["error"] = f"{who} stopped without a word (killed, or its node was lost); `dlrun resume {run_dir}` {then}"
    return summary


def settle_abandoned(run_dir, status: str = "interrupted") -> dict | None:
    """A `running` summary whose owner is gone (kill -9, a lost node), written down as `status`
    with the reason read_summary gives: a sweep's folders must not say `running` forever
    (dlrun.sweeps.reconcile). The summary as now written; None when the run lives or ended."""
    path = Path(run_dir) / SUMMARY_FILE
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):  # no summary yet, or one being replaced: nothing to settle
        return None
    if stored.get("status") != "running" or live_owner(run_dir) is not None:
        return None
    stored.update(status=status, error=read_summary(run_dir)["error"])
    atomic.write_text(path, json.dumps(_clean(stored), indent=2, sort_keys=False))
    return read_summary(run_dir)


def _objective_value(summary: dict, name: str):
    if name == summary["objective"]["metric"]:
        return summary["objective"]["value"]
    if name in ("params", "wall_time"):
        return summary.get("params" if name == "params" else "wall_time_s")
    section = {"val": "best", "test": "test"}.get(name.split("/", 1)[0], "final")
    return (summary.get(section) or {}).get(name)


def record_objectives(summary: dict) -> None:
    """summary["objectives"]: each objective's value once the run ended: the first's best (the
    best checkpoint's), another validation metric's best, a test metric's, a training
    metric's last, the model's parameter count, the wall time."""
    summary["objectives"] = {name: _objective_value(summary, name) for name in summary.get("objectives") or {}}


def parameter_count(module) -> int:
    return int(sum(parameter.numel() for parameter in module.parameters()))
