"""The record of a run (record.json, code.diff) and what is built from it: `dlrun rerun`, and
every command dlrun prints for copying, run as printed. The user's project is a git repository
of its own with a config dir holding a model YAML with `_target_` (as tests/test_own_code.py
brings a user's code), committed, then edited without a commit."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from conftest import TINY, cli_env, git_repository, read_json, run_cli
from dlrun.base.provenance import git_state
from dlrun.base.secrets import masked
from dlrun.training.record import ConfigSources, Invocation, build_record, command_line, overridden

MODEL = '''
import math
from torch import nn


class SmallNet(nn.Module):
    """A user's MLP."""

    def __init__(self, spec, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(spec.input_shape), hidden), nn.ReLU(),
                                 nn.Linear(hidden, spec.output_dim))

    def forward(self, x):
        return self.net(x)
'''
MODEL_YAML = "name: small\n_target_: mymodels.SmallNet\nhidden: 16\n"
EDIT = "# tuned after the commit\n"
QUICK = [*TINY[1:], "trainer.max_epochs=1", "hardware.threads=1"]


def git(folder, *args) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's project under git: mymodels.py and conf/model/small.yaml committed, then
    mymodels.py edited and notes.txt added, neither committed."""
    root = tmp_path / "myproject"
    (root / "conf" / "model").mkdir(parents=True)
    (root / "mymodels.py").write_text(textwrap.dedent(MODEL))
    (root / "conf" / "model" / "small.yaml").write_text(MODEL_YAML)
    (root / ".gitignore").write_text("outputs/\n")
    git_repository(root)
    with open(root / "mymodels.py", "a") as handle:
        handle.write(EDIT)
    (root / "notes.txt").write_text("not committed\n")
    return root


def printed_command(output: str, label: str) -> str:
    found = re.search(rf"{re.escape(label)}\s*\n?\s*((?:cd \S+ && )?dlrun .*)\n", output)
    assert found, f"no {label!r} command in:\n{output}"
    return found.group(1)


def run_printed(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A printed command through a shell, as a user pastes it; `dlrun` is this checkout's."""
    shim = cwd.parent / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "dlrun").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m dlrun \"$@\"\n")
    (shim / "dlrun").chmod(0o755)
    env = cli_env({"PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "WANDB_MODE": "offline"})
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def test_a_password_in_a_url_is_masked():
    assert masked("hydra.sweeper.storage=postgresql://me:s3cret@db:5432/x") == \
        "hydra.sweeper.storage=postgresql://me:***@db:5432/x"
    plain = "https://host/path?a=b and sqlite:///outputs/x.db"
    assert masked(plain) == plain


def test_commands_carry_the_config_folders_and_the_working_folder():
    sources = ConfigSources("/my work/proj", ("/my work/proj/conf",))
    assert command_line(sources, ["model=small"], here="/my work/proj") == \
        "dlrun --config-dir '/my work/proj/conf' model=small"
    assert command_line(sources, ["model=small"], here="/tmp") == \
        "cd '/my work/proj' && dlrun --config-dir '/my work/proj/conf' model=small"
    more = ConfigSources("/p", ("/p/a", "/p/b"), ("pkg://theirs.conf",), config_name="mine")
    assert more.flags() == ["--config-name", "mine", "--config-dir", "/p/a",
                            "hydra.searchpath=[file:///p/b,pkg://theirs.conf]"]
    assert overridden(["model=small", "optim.lr=0.1", "seed=1"], ["model=mlp", "seed=2"]) == \
        ["optim.lr=0.1", "model=mlp", "seed=2"]


def test_git_state_of_a_project_and_of_no_repository(project, tmp_path):
    state = git_state(project / "conf")
    assert state.root == str(project) and state.commit == git(project, "rev-parse", "HEAD")
    assert state.branch == "main" and state.dirty and EDIT in state.diff and state.untracked == ["notes.txt"]
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_state(outside) is None or Path(git_state(outside).root) != outside  # no repository of its own


def test_record_names_versions_and_masks_secrets(project):
    url = "data.url=https://me:s3cret@example.com/data.csv"
    invocation = Invocation("run", ConfigSources(str(project), (str(project / "conf"),)), (url, "seed=3"),
                            argv=("dlrun", url))
    record, diff = build_record({"seed": 3, "data": {"split_seed": 5}, "hardware": {"accelerator": "cpu"}},
                                invocation)
    text = json.dumps(record)
    assert "s3cret" not in text and "me:***@example.com" in text
    assert record["seeds"] == {"seed": 3, "data.split_seed": 5}
    assert record["code"]["commit"] == git(project, "rev-parse", "HEAD") and EDIT in diff
    assert {name: record["packages"][name] for name in ("torch", "lightning", "hydra-core", "optuna", "numpy")} == \
        {name: version(name) for name in ("torch", "lightning", "hydra-core", "optuna", "numpy")}
    assert record["command"] == f"dlrun --config-dir {project / 'conf'} '{url.replace('s3cret', '***')}' seed=3"


def test_dlrun_run_leaves_a_record(tiny_run):
    summary, run_dir = tiny_run
    record = read_json(Path(summary["run_dir"]) / "record.json")
    assert record["kind"] == "dlrun.run()" and record["overrides"] == TINY
    assert record["seeds"]["seed"] == summary["config"]["seed"]
    assert record["packages"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["device"]["processes"] == 1
    assert record["device"]["accelerator"] == summary["config"]["hardware"]["accelerator"]


def test_rerun_refuses_a_folder_without_a_record(tmp_path):
    missing = run_cli(["rerun", str(tmp_path / "nowhere")], cwd=tmp_path)
    assert missing.returncode == 2 and "not a dlrun run folder" in missing.stderr and "Traceback" not in missing.output
    old = tmp_path / "old_run"
    (old / ".hydra").mkdir(parents=True)
    (old / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (old / "summary.json").write_text(json.dumps({"status": "completed", "run_dir": str(old)}))
    result = run_cli(["rerun", str(old)], cwd=tmp_path)
    assert result.returncode == 2 and "no record.json" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_swept_project_is_recorded_rerun_and_every_printed_command_runs(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sweep = run_cli(["--config-dir", "conf", "-m", "model=small", "optim.lr=interval(0.001, 0.1)",
                     "hydra.sweeper.n_trials=2", *QUICK], cwd=project)
    assert sweep.returncode == 0, sweep.output
    sweep_dir = next((project / "outputs" / "sweeps").glob("*/*"))
    conf = project / "conf"
    assert f"file://{conf}" in (sweep_dir / "multirun.yaml").read_text(), "multirun.yaml names the config dir"

    trial = sweep_dir / "0"
    record = read_json(trial / "record.json")
    assert record["kind"] == "sweep trial" and record["sweep"] == {"dir": str(sweep_dir), "trial": 0}
    assert record["sources"]["config_dirs"] == [str(conf)] and record["sources"]["cwd"] == str(project)
    assert record["code"]["commit"] == git(project, "rev-parse", "HEAD") and record["code"]["branch"] == "main"
    assert record["code"]["dirty"] is True and record["code"]["untracked"] == ["notes.txt"]
    assert EDIT in (trial / record["code"]["diff"]).read_text()
    assert record["packages"]["torch"] == version("torch") and record["packages"]["lightning"] == version("lightning")
    assert record["command"].startswith(f"dlrun --config-dir {conf} model=small ")

    rerun = run_cli(["rerun", str(trial)], cwd=elsewhere)
    assert rerun.returncode == 0, rerun.output
    assert "metrics: identical" in rerun.stdout, rerun.output
    rerun_dir = Path(re.search(r"rerun:\s+(\S+)", rerun.stdout).group(1))
    assert rerun_dir.parent.parent == project / "outputs" / "runs", "made in the run's working folder"
    assert read_json(rerun_dir / "summary.json")["test"] == read_json(trial / "summary.json")["test"]

    # the best trial's command, run as printed: the same test metrics as the trial
    best = int(re.search(r"best: trial (\d+)", sweep.stdout).group(1))
    reproduced = run_printed(printed_command(sweep.stdout, "reproduce it with:"), project)
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    run_dir = Path(re.search(r"run folder: (\S+)", reproduced.stdout).group(1))
    assert read_json(run_dir / "summary.json")["test"] == read_json(sweep_dir / str(best) / "summary.json")["test"]

    # the finished run's rerun hint, from another folder
    again = run_printed(printed_command(reproduced.stdout, "make it again:"), elsewhere)
    assert again.returncode == 0 and "metrics: identical" in again.stdout, again.stdout + again.stderr

    # more trials (one more, not twice as many) continue the same sweep
    more = printed_command(sweep.stdout, "more trials:").replace("hydra.sweeper.n_trials=4", "hydra.sweeper.n_trials=3")
    continued = run_printed(more, project)
    assert continued.returncode == 0, continued.stdout + continued.stderr
    assert (sweep_dir / "2" / "summary.json").is_file() and "3 trials" in continued.stdout

    # refine, asked from another folder: its command goes to the project's folder and runs there
    refine = run_cli(["refine", printed_command(sweep.stdout, "narrower search around the best:").split()[-1]],
                     cwd=elsewhere)
    assert refine.returncode == 0 and refine.stdout.startswith(f"cd {project} && dlrun --config-dir {conf} -m "), \
        refine.output
    refined = run_printed(re.sub(r"hydra\.sweeper\.n_trials=\d+", "hydra.sweeper.n_trials=1", refine.stdout.strip()),
                          elsewhere)
    assert refined.returncode == 0 and "1 trial (1 completed)" in refined.stdout, refined.stdout + refined.stderr

    # a resume from another folder finds the user's code; the record takes its overrides
    resumed = run_cli(["resume", str(run_dir), "trainer.max_epochs=2"], cwd=elsewhere)
    assert resumed.returncode == 0, resumed.output
    record = read_json(run_dir / "record.json")
    assert record["overrides"][-1] == "trainer.max_epochs=2" and "trainer.max_epochs=1" not in record["overrides"]
    assert [entry["overrides"] for entry in record["resumes"]] == [["trainer.max_epochs=2"]]

    # a run folder named again is refused with the command that continues it: it runs from anywhere
    taken = run_cli(["--config-dir", "conf", "model=small", *QUICK, f"hydra.run.dir={run_dir}"], cwd=project)
    assert taken.returncode == 2, taken.output
    hint = re.search(r"`(dlrun resume [^`]+)`", taken.stderr).group(1)
    continued = run_printed(f"{hint} trainer.max_epochs=3", elsewhere)
    assert continued.returncode == 0 and read_json(run_dir / "summary.json")["epochs"] == 3, continued.stderr


@pytest.mark.slow
def test_a_population_member_is_recorded_and_rerun(project, tmp_path):
    sweep = run_cli(["--config-dir", "conf", "-m", "model=small", "optim.lr=0.01,0.05", "launcher=population", *QUICK],
                    cwd=project)
    assert sweep.returncode == 0, sweep.output
    member = next((project / "outputs" / "sweeps").glob("*/*")) / "1"
    record = read_json(member / "record.json")
    assert record["kind"] == "population member" and record["sources"]["config_dirs"] == [str(project / "conf")]
    assert "launcher=population" not in record["command"] and "optim.lr=0.05" in record["command"]
    assert record["code"]["commit"] == git(project, "rev-parse", "HEAD")
    rerun = run_cli(["rerun", str(member)], cwd=tmp_path)
    assert rerun.returncode == 0 and re.search(r"metrics: (identical|\d+ of \d+ differ)", rerun.stdout), rerun.output


def test_the_comparison_says_identical_or_each_difference(capsys):
    from dlrun.cli.commands.rerun import print_comparison

    original = {"final": {"val/loss": 0.5, "val/acc": 0.9}, "test": {"test/acc": 0.95}}
    print_comparison(original, {"final": dict(original["final"]), "test": dict(original["test"])}, [])
    assert capsys.readouterr().out == "metrics: identical (3 final and test metrics)\n"
    print_comparison(original, {"final": {"val/loss": 0.5, "val/acc": 0.9}, "test": {"test/acc": 0.9}}, ["seed"])
    assert capsys.readouterr().out.splitlines() == [
        "config: differs from the original's in seed", "metrics: 1 of 3 differ (original -> rerun):",
        "  test test/acc  0.95 -> 0.9  (-0.05)"]
