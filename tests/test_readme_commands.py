"""The README's commands run as written: every `dlrun ...` line of a ```bash block and every
indented `dlrun ...` line, in the README's order, in one working folder (a later command uses
what an earlier one made: outputs/demo/lr_small, outputs/sweeps/lr, myproject/).

Shortened, not changed: a training command gets TINY (trainer.max_epochs=1, a few batches; a
key the command sets itself keeps its place and takes the short value), a sweep at most 2
trials. Placeholders (RUN_DIR, outputs/runs/DATE/TIME_NAME, a dated run folder) become a run
this test trains first. A command the README shows failing (a config error) must exit 2.

Representative subset, to stay within a few minutes on 2 cores: every command is run through
the real `dlrun` subprocess, but only the training commands in TRAINED train (those whose
outputs later commands read, and a user's own code); every other training command is run as
`dlrun validate ...` (its whole command line composed and checked as the run would check it;
the tests of each feature train them). The subcommands (ls, show, validate, resume, eval,
predict, compare, refine, init) all run. NOT_RUN lists what this test cannot run, with the reason.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env

README = Path(__file__).resolve().parent.parent / "README.md"

# a text found in the command: why this test cannot run it
NOT_RUN = {
    "make ": "installs the package / runs the whole suite",
    "python -m pytest": "the generated project's own test (tests/test_project_init.py runs it)",
    "kill -TERM": "needs a run to signal (tests/test_resume.py signals real runs)",
    "hardware=ddp ": "needs GPUs", "hardware=ddp hardware.precision": "needs GPUs",
    "hydra/launcher=slurm": "needs SLURM",
    "data=mnist": "needs MNIST's files (a download)",
    "tracking_uri=http": "needs an MLflow server",
    "postgresql://": "needs a PostgreSQL server (tests/test_sweep_workers.py runs one)",
    "notes.txt": "a transcript of an error on the user's own file (tests/test_data_errors.py)",
    "t.csv": "a transcript of an error on the user's own file (tests/test_data_errors.py)",
    "config error:": "an error message the README quotes, not a command",
    "sbatch ": "needs SLURM (tests/test_slurm_cluster.py starts a cluster)",
    "apt-get install": "installs system packages",
    "tests/slurm_cluster.py": "starts a SLURM cluster (tests/test_slurm_cluster.py)",
}
# the command trains (or sweeps) here; every other training command is validated
TRAINED = (
    "dlrun --config-dir conf +experiment=rings",  # a user's own code, as `dlrun init` writes it
    "dlrun trainer.max_epochs=5 hydra.run.dir=outputs/demo/lr_small optim.lr=0.001",  # predict and compare read it
    "dlrun data=text data.path=corpus.txt",  # predict reads it
    "dlrun trainer.max_epochs=5 hydra.run.dir=outputs/demo/lr_big optim.lr=0.01",  # compare reads it
    "dlrun -m optim.lr='tag(log, interval(1e-5, 1e-1))' hydra.sweeper.n_trials=4 hydra.sweep.dir=outputs/sweeps/lr",
)
# a command the README shows failing with a config error
FAILS = ("dlrun validate optim.lr=-1", "dlrun validate model=cnn data=reverse", "+model.widht=32")
SUBCOMMANDS = {"ls", "show", "validate", "resume", "eval", "predict", "compare", "refine", "init", "usage", "report", "rerun"}
TINY = {"trainer.max_epochs": "1", "trainer.limit_train_batches": "3", "trainer.limit_val_batches": "2",
        "trainer.limit_test_batches": "2", "trainer.progress_bar": "false", "hardware.threads": "1"}
FIRST_RUN = "outputs/readme_run"
PLACEHOLDERS = ("RUN_DIR", "outputs/runs/DATE/TIME_NAME", "outputs/runs/2025-01-01/12-00-00_mlp_digits")


def readme_commands() -> list:
    """[(line number, command)] in the README's order: ```bash lines and indented `dlrun` lines,
    `\\` continuations joined, `$ ` prompts and trailing comments dropped."""
    commands, in_bash, in_fence, pending = [], False, False, ""
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_fence, in_bash = not in_fence, (not in_fence) and line.strip() == "```bash"
            continue
        text = line.strip()
        if not (in_bash or (not in_fence and re.match(r"^ {4,}(\$ )?dlrun ", line))) and not pending:
            continue
        text = pending + re.sub(r"\s+#\s.*$", "", text.removeprefix("$ "))
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        if text and not text.startswith("#"):
            commands.append((number, text))
    return commands


def _shortened(arguments: list) -> list:
    """TINY in place of the command's own values of those keys, the rest appended; sweeps of 2 trials."""
    arguments = [re.sub(r"^(hydra\.sweeper\.n_trials)=(\d+)$", lambda m: f"{m[1]}={min(int(m[2]), 2)}", argument)
                 for argument in arguments]
    given = {argument.split("=", 1)[0] for argument in arguments if "=" in argument}
    short = [f"{key}={TINY[key]}" if key in TINY else argument
             for argument in arguments for key in [argument.split("=", 1)[0]]]
    return short + [f"{key}={value}" for key, value in TINY.items() if key not in given]


def planned(command: str) -> tuple:
    """(argv for the test, expected exit code): the dlrun command shortened or as a validation."""
    for placeholder in PLACEHOLDERS:
        command = command.replace(placeholder, FIRST_RUN)
    words = shlex.split(command, comments=True)
    if words[:3] == [sys.executable.rsplit("/", 1)[-1], "-m", "dlrun"] or words[:3] == ["python", "-m", "dlrun"]:
        words = ["dlrun", *words[3:]]
    expected = 2 if any(text in command for text in FAILS) else 0
    if words[:2] == ["dlrun", "resume"]:  # extends the first run by one epoch, not to the README's 40
        words = [re.sub(r"^trainer\.max_epochs=\d+$", "trainer.max_epochs=2", word) for word in words]
    first = (words[1:] or [""])[0]
    if words[0] != "dlrun" or first in SUBCOMMANDS or first.startswith("--help") or words[1:3] == ["--cfg", "job"]:
        return words, expected
    if any(command.startswith(prefix) for prefix in TRAINED):
        return ["dlrun", *_shortened(words[1:])], expected
    sweep = "-m" in words[1:]
    return ["dlrun", "validate", *(["-m"] if sweep else []), *[word for word in words[1:] if word != "-m"]], expected


def _run(words: list, cwd: Path) -> subprocess.CompletedProcess:
    environment = cli_env({"WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"})
    if words[0] == "dlrun":
        return subprocess.run([sys.executable, "-m", "dlrun", *words[1:]], cwd=cwd, capture_output=True, text=True,
                              timeout=600, env=environment)
    return subprocess.run(shlex.join(words) if words[0] != "python" else [sys.executable, *words[1:]],
                          shell=words[0] != "python", cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=environment)


def test_the_extraction_finds_the_readmes_commands():
    commands = [command for _, command in readme_commands()]
    assert "dlrun ls optim adamw" in commands and "dlrun init myproject && cd myproject" in commands
    assert any(command.startswith("dlrun -m optim.lr='tag(log, interval(1e-5, 1e-1))' hydra.sweeper.n_trials=30 ")
               and "study_name=lr" in command for command in commands)  # a `\` continuation joined
    assert planned("dlrun trainer.max_epochs=5 hydra.run.dir=outputs/demo/lr_small optim.lr=0.001")[0][:3] == \
        ["dlrun", "trainer.max_epochs=1", "hydra.run.dir=outputs/demo/lr_small"]
    assert planned("dlrun loss.label_smoothing=0.1")[0] == ["dlrun", "validate", "loss.label_smoothing=0.1"]
    assert planned("dlrun eval RUN_DIR")[0] == ["dlrun", "eval", FIRST_RUN]
    assert planned("python -m dlrun")[0] == ["dlrun", "validate"]  # the default experiment, checked
    for text in list(NOT_RUN) + list(TRAINED):  # a stale entry is a README that changed
        assert any(text in command for command in commands), text


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path):
    first = _run(["dlrun", f"hydra.run.dir={FIRST_RUN}", *_shortened([])], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    failures, ran = [], 0
    for number, command in readme_commands():
        if any(text in command for text in NOT_RUN):
            continue
        for step in command.split(" && "):
            if step.startswith("cd "):  # `dlrun init myproject && cd myproject`: its commands name conf/
                continue
            words, expected = planned(step)
            here = tmp_path / "myproject" if re.search(r"--config-dir conf|file://conf", step) else tmp_path
            result = _run(words, here)
            ran += 1
            if result.returncode != expected:
                failures.append(f"README.md:{number}: {step}\n  ran: {shlex.join(words)} in {here}\n  exit "
                                f"{result.returncode} (expected {expected}): {result.stderr.strip()[-800:]}")
    assert not failures, "\n".join(failures)
    assert ran > 40
