"""Sweeps on a SLURM cluster (launcher=submitit_slurm): each trial's job sized from the trial's
config, checked against what the partition's nodes have before anything is submitted, one
console line while jobs wait in the queue (squeue's reason and for how long), and submitit's
and the scheduler's warnings in the sweep's slurm.log rather than on the console.

The launcher's null sizes (conf/hydra/launcher/slurm.yaml) are filled in here:
    cpus_per_task = hardware.threads (1 when null) + data.split.num_workers
    mem_gb        = tasks_per_node x (MEM_PER_RANK_GB + data.split.num_workers)
    gpus_per_node = hardware.devices on a GPU accelerator (gpu, cuda, auto), none on the CPU
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

LOG_FILE = "slurm.log"
MEM_PER_RANK_GB = 4  # a rank's process: torch, the model, an in-memory data set (cifar10 as floats: 0.6 GB)
GPU_ACCELERATORS = ("gpu", "cuda", "auto")
log = logging.getLogger("dlrun.sweep")


def is_slurm(launcher) -> bool:
    return "SlurmLauncher" in str(launcher.get("_target_", ""))


def job_sizes(launcher, config) -> dict:
    """{launcher key: value} for the sizes left null, from the config every trial starts from."""
    from omegaconf import OmegaConf

    hardware = config.get("hardware") or {}
    loaders = int(OmegaConf.select(config, "data.split.num_workers", default=0) or 0)
    sizes = {}
    if launcher.get("cpus_per_task") is None:
        sizes["cpus_per_task"] = int(hardware.get("threads") or 1) + loaders
    if launcher.get("mem_gb") is None:
        sizes["mem_gb"] = int(launcher.get("tasks_per_node") or 1) * (MEM_PER_RANK_GB + loaders)
    if launcher.get("gpus_per_node") is None and str(hardware.get("accelerator")) in GPU_ACCELERATORS:
        sizes["gpus_per_node"] = hardware.get("devices")
    return sizes


def _scheduler(*args) -> str | None:
    """A SLURM command's output; None where it cannot answer (no cluster here: submitting will say)."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def partition_problem(launcher) -> str | None:
    """One line when the job asks a node for more CPUs or memory than the partition's nodes have
    (SLURM would keep it pending forever, reason PartitionConfig); None when it fits or no one can tell."""
    partition = launcher.get("partition")
    listed = _scheduler("sinfo", "-h", "-o", "%P|%c|%m", *(["-p", str(partition)] if partition else []))
    if listed is None:
        return None
    nodes = [line.split("|") for line in listed.split() if line.count("|") == 2]
    if not nodes:
        known = _scheduler("sinfo", "-h", "-o", "%P") or ""
        return (f"hydra.launcher.partition={partition}: not a partition of this cluster; "
                f"partitions: {', '.join(sorted(set(known.replace('*', '').split()))) or 'none'}")
    name = partition or nodes[0][0].rstrip("*")
    cpus = max(int(node[1].rstrip("+")) for node in nodes)
    memory_gb = max(int(node[2].rstrip("+")) for node in nodes) / 1024
    tasks, per_task = int(launcher.get("tasks_per_node") or 1), int(launcher.get("cpus_per_task") or 1)
    if tasks * per_task > cpus:
        return (f"hydra.launcher.cpus_per_task={per_task} x tasks_per_node={tasks}: partition {name}'s nodes have "
                f"{cpus} CPUs; set hydra.launcher.cpus_per_task={max(1, cpus // tasks)} (or fewer hardware.threads)")
    mem_gb = launcher.get("mem_gb")
    if mem_gb is not None and mem_gb > memory_gb:
        return (f"hydra.launcher.mem_gb={mem_gb}: partition {name}'s nodes have {memory_gb:.0f} GB; "
                f"set hydra.launcher.mem_gb={int(memory_gb)} or less")
    return None


def quiet_submitit(sweep_dir: Path) -> None:
    """submitit's log (its 'Bypassing sacct error' on every poll of a cluster without accounting)
    and the scheduler commands' own warnings go to sweep_dir/slurm.log, not the console."""
    from dlrun.base import submitit_private

    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / LOG_FILE
    submitit_private.scheduler_stderr_to(path)  # first: importing submitit sets up its console handlers
    logger = logging.getLogger("submitit")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


class QueueWatch(threading.Thread):
    """Polls squeue for this sweep's jobs (the folders submitit made under `folder`, named by job
    id) and logs one line while some are pending: how many, squeue's reason, how long the oldest
    has waited. Again when the reason changes, else every `every_s`."""

    def __init__(self, folder: Path, poll_s: float = 5.0, every_s: float = 60.0):
        super().__init__(daemon=True, name="dlrun-slurm-queue")
        self.folder, self.poll_s, self.every_s = folder, poll_s, every_s
        self.stopped = threading.Event()
        self._said, self._said_at = None, 0.0

    def run(self) -> None:
        while not self.stopped.wait(self.poll_s):
            self.check()

    def stop(self) -> None:
        self.stopped.set()

    def _ours(self) -> set:
        return {path.name for path in self.folder.iterdir() if path.is_dir()} if self.folder.is_dir() else set()

    def check(self) -> None:
        ours = self._ours()
        listed = _scheduler("squeue", "-h", "-t", "PENDING", "-o", "%i|%r|%V") if ours else None
        pending = [line.split("|") for line in (listed or "").splitlines() if line.split("|")[0] in ours]
        if not pending:
            self._said = None
            return
        reasons = ", ".join(sorted({reason for _, reason, _ in pending}))
        waited = max(time.time() - _submitted(submit) for _, _, submit in pending)
        now = time.monotonic()
        if reasons != self._said or now - self._said_at >= self.every_s:
            log.info("waiting for SLURM: %d job(s) pending for %s (squeue reason: %s)",
                     len(pending), _duration(waited), reasons)
            self._said, self._said_at = reasons, now


def _submitted(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()  # squeue's %V: local time
    except ValueError:
        return time.time()
