"""One rank of a multi-process run: quiet logging off rank zero, the usual run path
(`runner.execute`, whose files only rank zero writes), and this rank's own record.

Also the entry point of every rank dlrun's parent starts (dlrun.distributed.launch):

    python -m dlrun.distributed.launch --nproc-per-node N ... -m dlrun.distributed.rank RUN_DIR

It reads the config the parent resolved (RUN_DIR/ranks/config.yaml) instead of composing
one, so all ranks train the same experiment whatever Hydra or a sweeper would pick, and the
caller's run hooks the parent named (RUN_DIR/ranks/hooks.json).
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

from dlrun.base.errors import BadInput, refusing_bad_input
from dlrun.distributed.env import global_rank
from dlrun.distributed.records import LAUNCH_CONFIG, LAUNCH_HOOKS, ranks_dir, update_record
from dlrun.training.console import attach_run_log


class _RankPrefix(logging.Filter):
    def __init__(self, rank: int):
        super().__init__()
        self.prefix = f"[rank {rank}] "

    def filter(self, record) -> bool:
        if not str(record.msg).startswith(self.prefix):
            record.msg = self.prefix + str(record.msg)
        return True


def configure_rank_logging(run_dir: Path, rank: int) -> None:
    """Rank zero logs like a single run (console + run.log); the others log errors only,
    labelled with their rank. Under SLURM, Hydra has set up the handlers already."""
    root = logging.getLogger()
    if not root.handlers:
        attach_run_log(run_dir, console=sys.stdout if rank == 0 else sys.stderr)
    if rank != 0:
        for handler in root.handlers:
            handler.setLevel(logging.ERROR)
            handler.addFilter(_RankPrefix(rank))
        warnings.filterwarnings("ignore")  # rank zero shows the same warnings once


def run_rank(cfg, run_dir, hooks) -> dict:
    """Train this rank's part of the run, with the caller's `hooks` (dlrun.training.hooks.RunHooks);
    return its summary (rank zero's is the run's)."""
    from dlrun.training.runner import execute

    run_dir, rank = Path(run_dir), global_rank()
    run_dir.mkdir(parents=True, exist_ok=True)
    configure_rank_logging(run_dir, rank)
    update_record(run_dir, rank, status="running", started_at=time.time())
    summary = execute(cfg, run_dir, hooks=hooks)
    ended = time.time()
    # failed_at: kept from RankRecord.on_exception when it came first (update_record keeps the first)
    failed = {"failed_at": ended} if summary["status"] == "failed" else {}
    update_record(run_dir, rank, status=summary["status"], ended_at=ended, error=summary.get("error"), **failed)
    return summary


@refusing_bad_input()
def main(argv=None) -> int:
    from omegaconf import OmegaConf

    from dlrun.training.hooks import RunHooks

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise BadInput("usage: python -m dlrun.distributed.rank RUN_DIR")
    run_dir = Path(args[0])
    cfg = OmegaConf.load(ranks_dir(run_dir) / LAUNCH_CONFIG)
    summary = run_rank(cfg, run_dir, RunHooks.load(ranks_dir(run_dir) / LAUNCH_HOOKS))
    return 0 if summary["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
