"""The parent side of a multi-process run on this machine.

Writes the resolved config (and the caller's run hooks, by name) into the run folder,
starts one rank per device with PyTorch's elastic launcher on dlrun's rank entry point
(dlrun.distributed.rank), waits, and returns the summary rank zero wrote. When a rank dies, the launcher stops the others (no rank waits forever
in a collective) and the summary is marked failed with the error of the rank that failed
first, also when rank zero could not write it.

`python -m dlrun.distributed.launch ARGS` is that launcher (the agent): torch.distributed.run
with ARGS, minus the Python traceback and banner it prints when a rank fails; the parent
reports the failing rank's own error (from its record) instead, and one line here says what
the agent saw.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from dlrun.distributed.env import LAUNCHER_VARIABLE, TORCHRUN
from dlrun.recipe.metrics import objectives
from dlrun.distributed.records import LAUNCH_CONFIG, LAUNCH_HOOKS, clear_records, first_failure, ranks_dir, read_records
from dlrun.training.summary import SUMMARY_FILE, new_summary, read_summary, write_summary

log = logging.getLogger("dlrun")
SECONDS_TO_STOP = 60  # after Ctrl+C: how long the ranks get to write their files


def torchrun_command(run_dir: Path, processes: int) -> list:
    return [sys.executable, "-m", "dlrun.distributed.launch", "--standalone", "--nnodes=1",
            f"--nproc-per-node={processes}", "--max-restarts=0",
            "-m", "dlrun.distributed.rank", str(run_dir)]


def rank_environment(processes: int) -> dict:
    environment = {**os.environ, LAUNCHER_VARIABLE: TORCHRUN}
    # the cores are shared among the ranks (torchrun would set 1 and warn about it)
    environment.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    return environment


def _wait(process: subprocess.Popen) -> tuple:
    """(exit code, interrupted by the user?)"""
    try:
        return process.wait(), False
    except KeyboardInterrupt:
        process.terminate()  # the elastic agent passes it on to the ranks
        try:
            return process.wait(timeout=SECONDS_TO_STOP), True
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(), True


def _headline(error: str) -> str:
    """The `Type: message` line of a traceback (its last unindented line)."""
    lines = [line for line in error.splitlines() if line and not line[0].isspace()]
    return lines[-1] if lines else error


def _verdict(records: list, returncode: int, interrupted: bool, processes: int) -> tuple:
    """(status, error) for the whole group; (None, None) keeps what rank zero wrote."""
    if interrupted:
        return "interrupted", None
    failed = first_failure(records)
    if failed is not None:
        error = failed["error"].strip()
        return "failed", f"rank {failed['rank']} of {processes} failed first: {_headline(error)}\n{error}"
    if any(record.get("status") == "interrupted" for record in records):
        return "interrupted", None  # stopped from outside (Ctrl+C, a scheduler's signal)
    ended = {record["rank"] for record in records if record.get("status") == "completed"}
    if returncode == 0 and len(ended) == processes:
        return None, None
    silent = sorted(set(range(processes)) - ended)
    return "failed", (f"the rank group exited with code {returncode}; rank(s) {silent} ended without reporting "
                      "an error (killed by a signal or out of memory?)")


def settle_summary(cfg, run_dir: Path, returncode: int, interrupted: bool, processes: int) -> dict:
    """Rank zero's summary, corrected with what the parent saw of the whole group."""
    records = read_records(run_dir)
    written = (Path(run_dir) / SUMMARY_FILE).is_file()
    if written:
        summary = read_summary(run_dir)
    else:
        summary = new_summary(cfg.name, run_dir, OmegaConf.to_container(cfg, resolve=True), objectives(cfg.objective))
    summary["ranks"] = [{key: record.get(key) for key in ("rank", "hostname", "status", "lr", "train_batch_size")}
                        for record in records]
    status, error = _verdict(records, returncode, interrupted, processes)
    if status is None and not written:
        status, error = "failed", "rank zero ended without writing summary.json"
    if status is not None:
        summary["status"] = status
    if error is not None:
        summary["error"] = error
        log.error("%s", error.splitlines()[0])
    write_summary(summary, run_dir)
    return summary


def launch_ranks(cfg, run_dir, processes: int, hooks) -> dict:
    """Train `cfg` with `processes` ranks on this machine, each with the caller's `hooks`
    (dlrun.training.hooks.RunHooks); return the run's summary."""
    run_dir = Path(run_dir)
    ranks_dir(run_dir).mkdir(parents=True, exist_ok=True)
    clear_records(run_dir)
    (run_dir / SUMMARY_FILE).unlink(missing_ok=True)
    OmegaConf.save(cfg, ranks_dir(run_dir) / LAUNCH_CONFIG, resolve=True)
    hooks.save(ranks_dir(run_dir) / LAUNCH_HOOKS)
    log.info("starting %d ranks with torch.distributed.run in %s", processes, run_dir)
    process = subprocess.Popen(torchrun_command(run_dir, processes), env=rank_environment(processes))
    returncode, interrupted = _wait(process)
    return settle_summary(cfg, run_dir, returncode, interrupted, processes)


def agent(argv) -> int:
    """torch.distributed.run's main, one line instead of its traceback when a rank fails."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    try:
        main(argv)
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()
        print(f"torch.distributed.run: rank {rank} exited first (exit code {failure.exitcode}); "
              f"the agent stopped the other ranks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(agent(sys.argv[1:]))
