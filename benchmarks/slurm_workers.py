"""Sweep workers on a real one-node SLURM cluster: the same N tiny trials of one study run by
one `dlrun -m` in one process (no scheduler), then by the same command submitted as a job
array of 1, 2 and 4 tasks (`sbatch --array=0-(K-1)`, 1 CPU each: every task a worker of
the study). Each case: wall time from submission until the array has left the queue, trials
per minute, and per-trial overhead: (wall x slots - the trials' own run time) / N, where slots
is how many tasks run at once (min(K, CPUs of the node)) and a trial's run time is its
summary.json's wall_time_s. In one process that overhead is the study's ask/tell and composing
each trial's config; in an array it adds each task's start (python, torch, Lightning,
Hydra) and the scheduler's wait between submission and start.

The cluster is tests/slurm_cluster.py's (slurm-wlm and munge installed with apt-get where
missing), started in a temp folder and stopped at the end; `--slurm-conf PATH` uses a running one.

    python benchmarks/slurm_workers.py              # 16 trials; 1, 2, 4 tasks
    python benchmarks/slurm_workers.py --smoke      # 4 trials; 1, 2 tasks: checks that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

TRIAL = ["trainer.max_epochs=2", "trainer.limit_train_batches=5", "trainer.limit_val_batches=2",
         "trainer.test_after_fit=false", "trainer.progress_bar=false", "hardware.threads=1",
         "optim.lr=tag(log, interval(1e-4, 1e-1))"]


def environment(slurm_conf: str) -> dict:
    return {**os.environ, "SLURM_CONF": slurm_conf, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def run_time(sweep_dir: Path) -> float:
    return sum(json.loads(path.read_text())["wall_time_s"] for path in sweep_dir.glob("*/summary.json"))


def completed(sweep_dir: Path) -> int:
    return sum(json.loads(path.read_text())["status"] == "completed" for path in sweep_dir.glob("*/summary.json"))


def one_process(work: Path, trials: int, env: dict) -> tuple:
    sweep_dir = work / "one-process"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dlrun", "-m", *TRIAL, f"hydra.sweeper.n_trials={trials}",
                    f"hydra.sweep.dir={sweep_dir}"], cwd=work, env=env, check=True, capture_output=True)
    return time.perf_counter() - started, sweep_dir


def job_array(work: Path, trials: int, tasks: int, env: dict) -> tuple:
    sweep_dir = work / f"array-{tasks}"
    command = shlex.join([sys.executable, "-m", "dlrun", "-m", *TRIAL, f"hydra.sweeper.n_trials={trials}",
                          f"hydra.sweep.dir={sweep_dir}"])
    started = time.perf_counter()
    job = subprocess.run(["sbatch", "--parsable", f"--array=0-{tasks - 1}", "--cpus-per-task=1", "--mem=2G",
                          f"--chdir={work}", f"--output={work}/array-{tasks}-%a.log", "--wrap", command],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    while subprocess.run(["squeue", "-h", "-j", job], env=env, capture_output=True, text=True).stdout.strip():
        time.sleep(0.2)
    return time.perf_counter() - started, sweep_dir


def report(label: str, wall: float, sweep_dir: Path, trials: int, slots: int) -> None:
    done = completed(sweep_dir)
    overhead = (wall * slots - run_time(sweep_dir)) / trials
    print(f"  {label:<28} {wall:6.1f} s   {done * 60 / wall:5.1f} trials/min   per-trial overhead {overhead:5.2f} s"
          f"   ({done}/{trials} completed, {slots} at a time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--tasks", default="1,2,4")
    parser.add_argument("--slurm-conf", help="a running cluster's slurm.conf (else one is started)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    trials, tasks = (4, [1, 2]) if args.smoke else (args.trials, [int(k) for k in args.tasks.split(",")])
    import slurm_cluster
    from sweep import machine_parallelism

    cluster = None if args.slurm_conf else slurm_cluster.start(Path(tempfile.mkdtemp(prefix="dlrun-slurm-bench-")))
    conf = args.slurm_conf or str(cluster.conf)
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], env=environment(conf), capture_output=True,
                              text=True).stdout.split()[0].rstrip("+"))
    try:
        with tempfile.TemporaryDirectory(prefix="dlrun-slurm-bench-") as folder:
            work, env = Path(folder), environment(conf)
            print(f"slurm workers benchmark: {trials} trials of `dlrun -m {shlex.join(TRIAL)}`, "
                  f"one node of {cpus} CPUs, 1 CPU a task")
            wall, sweep_dir = one_process(work, trials, env)
            report("one process (no scheduler)", wall, sweep_dir, trials, 1)
            for count in tasks:
                wall, sweep_dir = job_array(work, trials, count, env)
                report(f"job array of {count} task(s)", wall, sweep_dir, trials, min(count, cpus))
            print(f"machine check: two 1-thread torch processes did {machine_parallelism():.2f}x the work of one "
                  f"(2.00 on 2 idle cores; load average {os.getloadavg()[0]:.1f})")
    finally:
        if cluster is not None:
            slurm_cluster.stop(cluster)
            shutil.rmtree(cluster.root, ignore_errors=True)


if __name__ == "__main__":
    main()
