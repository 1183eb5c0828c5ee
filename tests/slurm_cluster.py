"""A real one-node SLURM cluster for the tests: slurmctld and slurmd on 127.0.0.1 in a folder of
their own, munge for authentication. Debian's slurm-wlm and munge are installed with apt-get
where missing (CI is a fresh machine, root); `start()` raises Unavailable where that cannot be.

    python tests/slurm_cluster.py /tmp/cluster   # start one by hand; SLURM_CONF=/tmp/cluster/slurm.conf squeue
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
NEEDED = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "munged")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
NODE = socket.gethostname()  # a name that resolves: Lightning reaches rank 0 at the first node of SLURM_NODELIST
PARTITION = "debug"


class Unavailable(RuntimeError):
    """SLURM cannot run here (no root, apt cannot install it): the tests skip with this reason."""


@dataclass
class Cluster:
    root: Path
    conf: Path
    cpus: int

    @property
    def env(self) -> dict:
        """What a client (sbatch, squeue, dlrun's launcher) needs to find this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *args, check=True, timeout=60) -> str:
        done = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env})
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))}: {done.stdout}{done.stderr}")
        return done.stdout

    def wait_idle(self, timeout=120) -> None:
        """Until no job of this cluster is left in the queue (the next test starts on a free node)."""
        deadline = time.monotonic() + timeout
        while self.command("squeue", "-h", "-o", "%i").strip():
            if time.monotonic() > deadline:
                self.command("scancel", "--full", "-u", "root", check=False)
                return
            time.sleep(0.5)


def _missing() -> list:
    return [name for name in NEEDED if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def install() -> None:
    """apt-get install slurm-wlm munge, once, where a program is missing."""
    if not _missing():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(f"SLURM is not installed ({', '.join(_missing())} missing) and apt-get cannot run here "
                          "(not root, or not Debian/Ubuntu): apt-get install slurm-wlm munge")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(args)} failed: {(done.stdout + done.stderr)[-500:]}")
    if _missing():
        raise Unavailable(f"installed {' '.join(PACKAGES)}, still missing {', '.join(_missing())}")


def start_munge() -> None:
    """munged on its usual socket (one per machine; left running for the next session)."""
    if _munge_answers():
        return
    if not MUNGE_KEY.is_file():
        subprocess.run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True, capture_output=True)
        shutil.chown(MUNGE_KEY, "munge", "munge")
        MUNGE_KEY.chmod(0o400)
    MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True, capture_output=True, timeout=60)
    _wait_for(_munge_answers, "munged to answer", 30)


def _munge_answers() -> bool:
    done = subprocess.run("munge -n | unmunge", shell=True, capture_output=True)
    return done.returncode == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 512
    return 1024


def write_conf(root: Path, cpus: int) -> Path:
    for folder in ("state", "spool"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=dlrun-tests",
        f"SlurmctldHost={socket.gethostname()}(127.0.0.1)",
        "SlurmUser=root", "SlurmdUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge", "MpiDefault=none",
        f"StateSaveLocation={root / 'state'}", f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}", f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}", f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SchedulerType=sched/backfill", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
        "AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none", "ReturnToService=2", "SlurmdTimeout=300", "InactiveLimit=0",
        "KillWait=5", "MinJobAge=30", "SchedulerParameters=sched_interval=2",
        f"NodeName={NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs={cpus} "
        f"RealMemory={_memory_mb()} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
        ""]))
    return conf


def _wait_for(ready, what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log and log.is_file() else ""
            raise RuntimeError(f"waited {timeout:.0f}s for {what}\n{tail}")
        time.sleep(0.3)


def start(root: Path) -> Cluster:
    """Install where missing, then munged, slurmctld and slurmd, until the node takes jobs."""
    install()
    start_munge()
    cluster = Cluster(root, write_conf(root, os.cpu_count() or 1), os.cpu_count() or 1)
    env = {**os.environ, **cluster.env}
    subprocess.run(["slurmctld", "-f", str(cluster.conf), "-c", "-i"], check=True, env=env, capture_output=True)
    subprocess.run(["slurmd", "-f", str(cluster.conf), "-N", NODE], check=True, env=env, capture_output=True)

    def node_idle() -> bool:
        done = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=env)
        return done.returncode == 0 and done.stdout.strip() == "idle"
    _wait_for(node_idle, f"node {NODE} to be idle", 60, root / "slurmctld.log")
    return cluster


def stop(cluster: Cluster) -> None:
    """Cancel what is left and let it go, stop slurmd and slurmctld, then end any job step this
    cluster's slurmd left behind (munged stays: other users may share it)."""
    cluster.command("scancel", "--full", "-u", "root", check=False)
    cluster.wait_idle(timeout=30)
    for pid_file in ("slurmd.pid", "slurmctld.pid"):
        path = cluster.root / pid_file
        if path.is_file():
            _end(int(path.read_text().split()[0]))
    time.sleep(1)
    for pid in _steps_of(cluster):
        _end(pid, signal=9)


def _end(pid: int, signal: int = 15) -> None:
    try:
        os.kill(pid, signal)
    except (ProcessLookupError, PermissionError):
        pass


def _steps_of(cluster: Cluster) -> list:
    """slurmstepd processes of this cluster (their environment names its slurm.conf)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "slurmstepd" and \
                    f"SLURM_CONF={cluster.conf}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


if __name__ == "__main__":
    started = start(Path(sys.argv[1]).resolve())
    print(f"SLURM_CONF={started.conf}")
