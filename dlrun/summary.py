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

from dlrun import __version__, atomic
from dlrun.ownership import live_owner, read_owner

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


def new_summary(name: str, run_dir: Path, config: dict, objective: str) -> dict:
    return {
        "status": "running",
        "name": name,
        "run_dir": str(run_dir),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "dlrun_version": __version__,
        "objective": {"metric": objective, "value": None},
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


def write_summary(summary: dict, run_dir: Path) -> Path:
    # atomic: a reader never sees half a summary, a full disk keeps the previous one
    return atomic.write_text(Path(run_dir) / SUMMARY_FILE, json.dumps(_clean(summary), indent=2, sort_keys=False))


def read_summary(run_dir) -> dict:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {SUMMARY_FILE} (is {run_dir} a dlrun run folder?)")
    summary = json.loads(path.read_text())
    if summary.get("status") == "running" and live_owner(run_dir) is None:
        owner = read_owner(run_dir)
        who = owner.describe() if owner else "its process"
        summary["status"] = "crashed"
        summary["error"] = (f"{who} stopped without a word (killed, or its node was lost); "
                            f"`dlrun resume {run_dir}` continues from the last checkpoint")
    return summary
