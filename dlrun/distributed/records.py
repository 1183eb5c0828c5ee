"""Per-rank records: ranks/rank-<N>.json in the run folder, one per process, written by
the rank itself. They say what each rank actually trained with (its optimizer's
hyperparameters, its batch size, the cluster environment Lightning saw) and how it ended,
so a run can be checked for ranks that disagreed and a failure traced to the rank that
failed first. ranks/config.yaml is the resolved config the ranks were started from, and
ranks/hooks.json the caller's run hooks (dlrun.training.hooks) they add to it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dlrun.base import atomic

RANKS_DIR = "ranks"
LAUNCH_CONFIG = "config.yaml"
LAUNCH_HOOKS = "hooks.json"


def ranks_dir(run_dir) -> Path:
    return Path(run_dir) / RANKS_DIR


def record_path(run_dir, rank: int) -> Path:
    return ranks_dir(run_dir) / f"rank-{rank}.json"


def read_record(run_dir, rank: int) -> dict:
    path = record_path(run_dir, rank)
    return json.loads(path.read_text()) if path.is_file() else {}


def update_record(run_dir, rank: int, **fields) -> dict:
    """Merge fields into this rank's record; `failed_at` keeps its first value (the moment
    the rank failed, not the moment it finished reporting it)."""
    record = read_record(run_dir, rank)
    if "failed_at" in record:
        fields.pop("failed_at", None)
    record.update(rank=rank, **fields)
    path = record_path(run_dir, rank)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(record, indent=2, default=str))
    return record


def mark_failed(run_dir, rank: int, error: str) -> dict:
    return update_record(run_dir, rank, status="failed", error=error, failed_at=time.time())


def read_records(run_dir) -> list:
    """Every rank's record, by rank."""
    paths = sorted(ranks_dir(run_dir).glob("rank-*.json"), key=lambda path: int(path.stem.split("-")[1]))
    return [json.loads(path.read_text()) for path in paths]


def clear_records(run_dir) -> None:
    """Drop records from an earlier launch in the same folder (a rerun must not inherit them)."""
    for path in ranks_dir(run_dir).glob("rank-*.json"):
        path.unlink()


def first_failure(records: list):
    """The record of the rank that failed first (the cause; the others mostly failed
    because it left the group), or None."""
    failed = [record for record in records if record.get("status") == "failed" and record.get("error")]
    return min(failed, key=lambda record: record.get("failed_at", float("inf")), default=None)
