"""dlrun on a real SLURM cluster: one node (slurmctld and slurmd on 127.0.0.1, started once per
session by the `slurm` fixture of conftest.py), driven through the `dlrun` command as a user
runs it. Sweeps through launcher=submitit_slurm, a job warned before its time limit (SIGUSR1),
the same `dlrun -m` as a job array of workers, a worker cancelled mid-trial, and DDP over two
tasks of one job. Every job asks for 1 CPU (the node has as many as this machine)."""

from __future__ import annotations

import csv
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY, cli_env, read_json, run_cli, start_cli
from dlrun.sweeps import study as studies
from dlrun.sweeps.workers import RETRY_ATTR, WORKER_ATTR
from test_sweep_workers import postgres_url  # noqa: F401  (the session's PostgreSQL server, a fixture)

pytestmark = pytest.mark.slow
SLURM = ["launcher=submitit_slurm", "hydra.launcher.partition=debug"]


@pytest.fixture(autouse=True)
def free_node(slurm):
    """Each test starts on an idle node: what a failed test left queued is cancelled after it."""
    yield
    slurm.command("scancel", "--full", "-u", "root", check=False)
    slurm.wait_idle(timeout=60)


def summary_rows(sweep_dir: Path) -> list:
    with open(sweep_dir / "summary.csv") as handle:
        return list(csv.DictReader(handle))


def submitted(sweep_dir: Path) -> list:
    """The sbatch scripts submitit wrote for the sweep's jobs (one folder per job id)."""
    return [path.read_text() for path in sorted(sweep_dir.glob(".submitit/*/*_submission.sh"))]


def assert_quiet(output: str, sweep_dir: Path) -> None:
    """No submitit or scheduler warning on the console; they are in the sweep's slurm.log."""
    assert "Bypassing sacct error" not in output and "accounting storage is disabled" not in output, output[-3000:]
    assert "Bypassing sacct error" in (sweep_dir / "slurm.log").read_text()


def test_grid_sweep_with_pruning_runs_each_trial_as_a_job_sized_from_hardware(tmp_path, slurm):
    """One job at a time (array_parallelism=1), so the median pruner has a finished trial to
    compare the hopeless second with."""
    sweep_dir = tmp_path / "grid"
    result = run_cli(["-m", *SLURM, *TINY, "trainer.max_epochs=3", "optim.lr=0.01,1e-7",
                      "hydra.launcher.array_parallelism=1", "hydra.sweeper.pruner=median",
                      "hydra.sweeper.pruners.median.n_startup_trials=1", f"hydra.sweep.dir={sweep_dir}"],
                     cwd=tmp_path, env=slurm.env)
    assert result.returncode == 0, result.output[-3000:]
    rows = {row["optim.lr"]: row for row in summary_rows(sweep_dir)}
    assert [rows[lr]["status"] for lr in ("0.01", "1e-07")] == ["completed", "pruned"]
    hopeless = read_json(sweep_dir / "1" / "summary.json")
    assert "pruned by the sweep's median pruner" in hopeless["error"] and hopeless["epochs"] < 2
    scripts = submitted(sweep_dir)
    assert len(scripts) == 2, "one SLURM job per trial"
    for script in scripts:
        lines = set(script.splitlines())
        # hardware=cpu, hardware.threads=1, no loader workers: 1 CPU, 4 GB, no GPU
        assert {"#SBATCH --cpus-per-task=1", "#SBATCH --mem=4GB", "#SBATCH --partition=debug"} <= lines
        assert not any("gpus" in line for line in lines)
    assert_quiet(result.output, sweep_dir)


def test_random_sweep_waits_with_the_scheduler_reason_then_completes(tmp_path, slurm):
    """The node held by another job: the sweep says why its jobs wait, and finishes once freed."""
    blocker = slurm.command("sbatch", "--parsable", f"-c{slurm.cpus}", "--mem=100", "-o", "/dev/null",
                            "--wrap", "sleep 600").strip()
    sweep_dir = tmp_path / "random"
    worker = start_cli(["-m", *SLURM, *TINY, "optim.lr=tag(log, interval(1e-4, 1e-1))", "hydra.sweeper.n_trials=2",
                        f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env=slurm.env)
    lines, started = [], time.monotonic()
    try:
        for line in worker.stdout:
            lines.append(line)
            if "waiting for SLURM" in line or time.monotonic() - started > 300:
                break
    finally:
        slurm.command("scancel", blocker)
    output = "".join(lines) + worker.communicate(timeout=600)[0]
    assert worker.returncode == 0, output[-3000:]
    waiting = re.search(r"waiting for SLURM: 2 job\(s\) pending for \d+s \(squeue reason: ([^)]+)\)", output)
    assert waiting and set(waiting.group(1).split(", ")) <= {"Resources", "Priority"}, output[-3000:]
    rows = summary_rows(sweep_dir)
    assert [row["status"] for row in rows] == ["completed", "completed"]
    assert len({row["optim.lr"] for row in rows}) == 2
    assert_quiet(output, sweep_dir)


def test_a_job_bigger_than_the_partition_is_refused_before_it_is_submitted(tmp_path, slurm):
    sweep_dir = tmp_path / "big"
    result = run_cli(["-m", *SLURM, "hydra.launcher.cpus_per_task=64", "optim.lr=0.1,0.01",
                      f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env=slurm.env)
    assert result.returncode == 2, result.output[-3000:]
    assert (f"hydra.launcher.cpus_per_task=64 x tasks_per_node=1: partition debug's nodes have {slurm.cpus} CPUs; "
            f"set hydra.launcher.cpus_per_task={slurm.cpus}") in result.stderr
    assert "Traceback" not in result.output and not sweep_dir.exists()
    elsewhere = run_cli(["-m", "launcher=submitit_slurm", "hydra.launcher.partition=gpu", "optim.lr=0.1,0.01",
                         f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env=slurm.env)
    assert elsewhere.returncode == 2, elsewhere.output[-3000:]
    assert "hydra.launcher.partition=gpu: not a partition of this cluster; partitions: debug" in elsewhere.stderr
    assert not sweep_dir.exists() and not slurm.command("squeue", "-h").strip(), "nothing was submitted"


def job_ids(sweep_dir: Path) -> list:
    return sorted(path.name for path in sweep_dir.glob(".submitit/*") if path.is_dir())


def wait_for(ready, what: str, timeout: float = 300):
    started = time.monotonic()
    while not (found := ready()):
        assert time.monotonic() - started < timeout, f"waited {timeout}s for {what}"
        time.sleep(0.2)
    return found


def metric_rows(run_dir: Path) -> list:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_job_warned_before_its_time_limit_saves_requeues_and_resumes_in_its_folder(tmp_path, slurm):
    """SIGUSR1 as SLURM sends it ahead of the time limit (here by scancel): Lightning saves an hpc
    checkpoint and requeues the job; the job runs again (its BeginTime brought forward: SLURM holds
    a requeued job for two minutes) and resumes from it, in the same trial folder."""
    train = [*TINY, "trainer.max_epochs=40", "trainer.log_every_n_steps=1", "optim.lr=0.01"]
    sweep_dir, run_dir = tmp_path / "warned", tmp_path / "warned" / "0"
    worker = start_cli(["-m", *SLURM, *train, f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env=slurm.env)
    wait_for(lambda: any(row.get("epoch") not in (None, "", "0", "1", "2") for row in metric_rows(run_dir)),
             "the trial to train past its third epoch")
    (job,) = job_ids(sweep_dir)
    slurm.command("scancel", "--signal=USR1", "--full", job)
    wait_for(lambda: list(run_dir.glob("hpc_ckpt_*.ckpt")), "Lightning's hpc checkpoint")
    wait_for(lambda: slurm.command("squeue", "-h", "-j", job, "-o", "%T").strip() == "PENDING", "the requeue")
    slurm.command("scontrol", "update", f"JobId={job}", "StartTime=now")
    output = worker.communicate(timeout=600)[0]
    assert worker.returncode == 0, output[-3000:]
    assert [path.name for path in run_dir.glob("hpc_ckpt_*.ckpt")] == ["hpc_ckpt_1.ckpt"]
    assert (run_dir / "hpc_checksums" / "hpc_ckpt_1.ckpt.sha256").is_file(), "the hpc checkpoint has its checksum"
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "completed" and summary["epochs"] == 40
    steps = [int(row["step"]) for row in metric_rows(run_dir) if row.get("train/loss")]
    assert steps == sorted(set(steps)) and len(steps) == 40 * 5, "every training step once in metrics.csv"
    uninterrupted = run_cli([*train, f"hydra.run.dir={tmp_path / 'uninterrupted'}"], cwd=tmp_path)
    assert uninterrupted.returncode == 0, uninterrupted.output[-3000:]
    expected = read_json(tmp_path / "uninterrupted" / "summary.json")
    assert summary["test"] == expected["test"], "the test metrics of a run that was never interrupted"


WORKER = [*TINY, "trainer.test_after_fit=false", "optim.lr=tag(log, interval(1e-4, 1e-1))"]


def submit_workers(slurm, cwd: Path, tasks: int, args) -> str:
    """`sbatch --array=0-(tasks-1)` of one `dlrun -m ARGS` (1 CPU each): the job id."""
    command = shlex.join([sys.executable, "-m", "dlrun", "-m", *args])
    done = subprocess.run(["sbatch", "--parsable", f"--array=0-{tasks - 1}", "--cpus-per-task=1", "--mem=2G",
                           f"--chdir={cwd}", f"--output={cwd}/worker-%a.log", "--wrap", command],
                          capture_output=True, text=True, env=cli_env({**slurm.env, "OMP_NUM_THREADS": "1"}))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_for_job(slurm, job: str, timeout: float = 600) -> None:
    wait_for(lambda: not slurm.command("squeue", "-h", "-j", job).strip(), f"job {job} to end", timeout)


def worker_logs(cwd: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(cwd.glob("worker-*.log")))


def assert_completed(sweep_dir: Path, n: int) -> list:
    """n completed trials with distinct points in the study and in summary.csv."""
    rows = summary_rows(sweep_dir)
    assert [row["status"] for row in rows] == ["completed"] * n, rows
    assert len({row["optim.lr"] for row in rows}) == n, "two trials drew the same point"
    return rows


def test_a_job_array_of_workers_runs_exactly_n_trials_of_one_study(tmp_path, slurm):
    sweep_dir = tmp_path / "array"
    job = submit_workers(slurm, tmp_path, 3, [*WORKER, "hydra.sweeper.n_trials=6", f"hydra.sweep.dir={sweep_dir}"])
    wait_for_job(slurm, job)
    logs = worker_logs(tmp_path)
    assert len(list(tmp_path.glob("worker-*.log"))) == 3 and "Traceback" not in logs, logs[-3000:]
    rows = assert_completed(sweep_dir, 6)
    ran = [trial for trial in studies.load(sweep_dir).trials if trial.state.name == "COMPLETE"]
    assert sorted(trial.number for trial in ran) == sorted(int(row["trial"]) for row in rows)
    assert len({trial.user_attrs[WORKER_ATTR] for trial in ran}) >= 2, "the array's tasks shared the trials"


def test_a_job_array_of_workers_shares_one_postgres_study(tmp_path, slurm, postgres_url):  # noqa: F811
    sweep_dir = tmp_path / "array-pg"
    where = [f"hydra.sweeper.storage={postgres_url}", "hydra.sweeper.study_name=slurm-array"]
    job = submit_workers(slurm, tmp_path, 2, [*WORKER, "hydra.sweeper.n_trials=4", *where,
                                              f"hydra.sweep.dir={sweep_dir}"])
    wait_for_job(slurm, job)
    logs = worker_logs(tmp_path)
    assert "Traceback" not in logs, logs[-3000:]
    assert_completed(sweep_dir, 4)
    summary = run_cli(["summary", str(sweep_dir)], cwd=tmp_path)  # the study found through study.json
    assert summary.returncode == 0 and f"sweep {sweep_dir}: 4 trials (4 completed)" in summary.stdout, summary.output


def test_a_worker_job_cancelled_mid_trial_has_its_trial_retried_by_the_others(tmp_path, slurm):
    sweep_dir = tmp_path / "cancelled"
    longer = [*WORKER, "trainer.max_epochs=30", "hydra.sweeper.n_trials=4", f"hydra.sweep.dir={sweep_dir}"]
    job = submit_workers(slurm, tmp_path, 2, longer)
    wait_for(lambda: len(list(sweep_dir.glob("*/metrics.csv"))) >= 2, "both workers to be training")
    slurm.command("scancel", f"{job}_0")
    wait_for_job(slurm, job)
    trials = studies.load(sweep_dir).trials
    interrupted = [trial for trial in trials if trial.user_attrs.get("status") == "interrupted"]
    assert len(interrupted) == 1, [(t.number, t.state.name, t.user_attrs) for t in trials]
    (retried,) = [trial for trial in trials if trial.user_attrs.get(RETRY_ATTR) == interrupted[0].number]
    assert retried.state.name == "COMPLETE" and retried.params == interrupted[0].params
    rows = {row["trial"]: row for row in summary_rows(sweep_dir)}
    assert rows[str(interrupted[0].number)]["status"] == "interrupted"
    assert sum(row["status"] == "completed" for row in rows.values()) == 4


def test_ddp_over_two_tasks_of_one_job_matches_ddp_on_one_machine(tmp_path, slurm):
    """hardware=ddp_cpu through the launcher: one job of 2 tasks (1 CPU each), each a gloo rank
    started by srun; the metrics those ranks reach are the ones dlrun's own 2 ranks reach here."""
    train = [*TINY, "hardware=ddp_cpu", "optim.lr=0.01"]
    sweep_dir = tmp_path / "ddp"
    result = run_cli(["-m", *SLURM, *train, f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env=slurm.env)
    assert result.returncode == 0, result.output[-3000:]
    (script,) = submitted(sweep_dir)
    assert {"#SBATCH --ntasks-per-node=2", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=8GB"} <= set(script.splitlines())
    on_slurm = read_json(sweep_dir / "0" / "summary.json")
    records = [read_json(sweep_dir / "0" / "ranks" / f"rank-{rank}.json") for rank in (0, 1)]
    assert [record["cluster_environment"] for record in records] == ["SLURMEnvironment"] * 2
    assert [record["world_size"] for record in records] == [2, 2]
    here = run_cli([*train, f"hydra.run.dir={tmp_path / 'here'}"], cwd=tmp_path)
    assert here.returncode == 0, here.output[-3000:]
    expected = read_json(tmp_path / "here" / "summary.json")
    assert on_slurm["status"] == expected["status"] == "completed"
    assert on_slurm["global_step"] == expected["global_step"]
    assert on_slurm["test"] == pytest.approx(expected["test"], rel=1e-6)
    assert on_slurm["final"] == pytest.approx(expected["final"], rel=1e-6)
