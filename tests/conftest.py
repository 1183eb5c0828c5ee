"""Shared test helpers: the real CLI in a subprocess, the real configs, tiny sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A few steps of real training: small enough for a 2-core CPU.
TINY = ["trainer.max_epochs=2", "trainer.log_every_n_steps=2", "trainer.limit_train_batches=5", "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2", "trainer.progress_bar=false"]


def pytest_configure(config):
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    # in-process training on one thread: tiny models on a loaded 2-core machine run many
    # times faster without intra-op threads fighting over the cores
    import torch

    torch.set_num_threads(1)


class CliResult:
    def __init__(self, completed: subprocess.CompletedProcess, seconds: float):
        self.returncode, self.stdout, self.stderr = completed.returncode, completed.stdout, completed.stderr
        self.seconds = seconds
        self.output = completed.stdout + completed.stderr


def cli_env(env=None) -> dict:
    """The environment a `dlrun` subprocess of the tests gets: tests/ importable (their models)."""
    return {**os.environ, "PYTHONPATH": str(REPO / "tests") + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **(env or {})}


def run_cli(args, cwd, timeout=600, env=None) -> CliResult:
    """`dlrun ARGS` as a user runs it: a new process, the installed console script's module."""
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=cwd, capture_output=True, text=True,
                               timeout=timeout, env=cli_env(env))
    return CliResult(completed, time.perf_counter() - started)


def start_cli(args, cwd, env=None) -> subprocess.Popen:
    """`dlrun ARGS` started in the background (to signal or kill it); stdout and stderr merged."""
    return subprocess.Popen([sys.executable, "-m", "dlrun", *args], cwd=cwd, env=cli_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def only_run_dir(root: Path) -> Path:
    """The single run folder (the one holding summary.json) under root."""
    found = [path.parent for path in Path(root).rglob("summary.json")]
    assert len(found) == 1, f"expected one run folder under {root}, found {found}"
    return found[0]


def git_repository(folder: Path) -> str:
    """`folder` made a git repository (branch main) with all it holds committed; the commit."""
    def git(*args) -> str:
        done = subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.email=me@example.com", "-c", "user.name=me", "commit", "-q", "--allow-empty", "-m", "start")
    return git("rev-parse", "HEAD")


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def slurm():
    """A real one-node SLURM cluster (tests/slurm_cluster.py: slurm-wlm and munge installed with
    apt-get where missing), one for the whole session, stopped after the tests; its SLURM_CONF in
    `.env` for the dlrun processes that submit to it. Skipped only where apt cannot install it."""
    import shutil
    import tempfile

    import slurm_cluster

    try:
        cluster = slurm_cluster.start(Path(tempfile.mkdtemp(prefix="dlrun-slurm-")))
    except slurm_cluster.Unavailable as reason:
        pytest.skip(str(reason))
    try:
        yield cluster
    finally:
        slurm_cluster.stop(cluster)
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(summary, run folder) of one finished TINY run of the default experiment, trained once
    for every test that only reads such a run (its checkpoints, metrics, summary)."""
    import dlrun

    run_dir = tmp_path_factory.mktemp("tiny_run")
    return dlrun.run(TINY, run_dir=run_dir), run_dir


@pytest.fixture
def cli(tmp_path):
    """run_cli bound to a fresh working folder (outputs/ lands there)."""
    return lambda *args, **kwargs: run_cli(list(args), cwd=tmp_path, **kwargs)


def heavy_imports_after(argv_list, cwd, heavy=("torch", "lightning", "sklearn", "numpy", "matplotlib")):
    """Run `dlrun ARGV` for each ARGV in one fresh interpreter; return (the heavy modules
    they imported, [each exit code], stderr). The lazy-import promise, tested as a user runs it."""
    probe = (
        "import json, sys\n"
        "from dlrun.cli.main import main\n"
        "codes = []\n"
        f"for argv in {list(map(list, argv_list))!r}:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as end:\n"
        "        codes.append(end.code)\n"
        f"print(json.dumps([sorted(m for m in {tuple(heavy)!r} if m in sys.modules), codes]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    heavy_loaded, codes = json.loads(result.stdout.strip().splitlines()[-1])
    return heavy_loaded, codes, result.stderr
