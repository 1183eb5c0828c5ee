"""Bad input, as a new user types it, through the real `dlrun` in a fresh process each: exit 2,
at most 3 lines naming the key, no traceback, no run folder, whatever the subcommand or flag.

The cases run once per session, two processes at a time (each is a whole `dlrun` start);
each case gets its own working folder, prepared by its setup, so "no run folder" is its own.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, run_cli

LONG_NAME = "n" * 5000
WIDE = "9" * 5000


# --- what some cases need in their working folder -----------------------------------------------

def _tables(cwd: Path):
    (cwd / "header_only.csv").write_text("a,b,label\n")
    (cwd / "t.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (cwd / "t.txt").write_text("a,b,label\n1,2,0\n")
    (cwd / "empty.txt").write_text("")
    (cwd / "afile").write_text("a file, not a folder")


def _user_configs(cwd: Path):
    (cwd / "mine" / "model").mkdir(parents=True)
    (cwd / "mine" / "model" / "broken.yaml").write_text("# my net\nname: mlp\nwidth: [1, 2\ndepth: 2\n")
    (cwd / "mine" / "model" / "small.yaml").write_text("# a small mlp\ndefaults:\n  - mlp\n  - _self_\nwidth: 8\n")


def _tampered_checkpoint(cwd: Path):
    """bad.ckpt whose sidecar records another file's SHA-256 (a flipped byte, as far as it knows)."""
    (cwd / "bad.ckpt").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    (cwd / "bad.ckpt.sha256").write_text(f"{hashlib.sha256(b'other bytes').hexdigest()}  bad.ckpt\n")


def _run_folder(cwd: Path):
    """A run folder as far as eval/resume read it before training: its saved config."""
    (cwd / "run" / ".hydra").mkdir(parents=True)
    (cwd / "run" / ".hydra" / "config.yaml").write_text(SAVED_CONFIG)
    (cwd / "run" / "checkpoints").mkdir()
    _tampered_checkpoint(cwd / "run" / "checkpoints")


def _damaged_run(cwd: Path, name: str, summary: bytes = None, config: str = None):
    """A run folder whose summary.json or .hydra/config.yaml is not what dlrun wrote."""
    (cwd / name / ".hydra").mkdir(parents=True)
    (cwd / name / ".hydra" / "config.yaml").write_text(SAVED_CONFIG if config is None else config)
    (cwd / name / "summary.json").write_bytes(b'{"status": "completed"}' if summary is None else summary)


def _damaged_sweep(cwd: Path, name: str, journal: bytes):
    (cwd / name).mkdir()
    (cwd / name / "study.journal").write_bytes(journal)


def _damaged_folders(cwd: Path):
    for name, summary in DAMAGED_SUMMARIES.items():
        _damaged_run(cwd, name, summary=summary)
    for name, config in DAMAGED_CONFIGS.items():
        _damaged_run(cwd, name, config=config)
    for name, journal in DAMAGED_JOURNALS.items():
        _damaged_sweep(cwd, name, journal)
    (cwd / "mine" / "model" / "scalar.yaml").write_text("5\n")
    (cwd / "mine" / "model" / "alist.yaml").write_text("- 1\n- 2\n")
    (cwd / "mine" / "data").mkdir()
    (cwd / "mine" / "data" / "words.yaml").write_text("just some words\n")
    import numpy as np

    np.savez(cwd / "uneven.npz", a=np.zeros(50), b=np.zeros(40), label=np.zeros(50, dtype=np.int64))


def _everything(cwd: Path):
    _tables(cwd)
    _user_configs(cwd)
    _tampered_checkpoint(cwd)
    _run_folder(cwd)
    _damaged_folders(cwd)


# run folders damaged in their summary.json (cut short, not JSON, a list, no status, not text)
DAMAGED_SUMMARIES = {"cut_summary": b'{"status": "comp', "garbage_summary": b"not json{", "list_summary": b"[1, 2]",
                     "statusless_summary": b"{}", "binary_summary": b"\xff\xfe\x00\x01"}
# ... or in their saved config (not YAML, a list, a scalar)
DAMAGED_CONFIGS = {"broken_config": "model: [1, 2\n", "list_config": "- 1\n- 2\n", "scalar_config": "5\n"}
# sweep folders whose study.journal is not an Optuna journal
DAMAGED_JOURNALS = {"garbage_journal": b"garbage{{{\n", "list_journal": b"[1, 2]\n", "empty_journal": b"",
                    "binary_journal": b"\xff\xfe\x00bin", "control_journal": b'{"op_code": 0, "st\x01x"}\n'}


SAVED_CONFIG = ""  # filled by the session fixture (the composed default config)


# --- the cases: (id, arguments, texts the output must hold) ------------------------------------

V = "validate"
CASES = [
    # numbers: non-finite, out of range
    ("lr nan", [V, "optim.lr=nan"], ["optim.lr=nan", "finite"]),
    ("unknown tracker", ["+logger.nosuch=true"], ["logger.nosuch", "mlflow, tensorboard, wandb"]),
    ("lr inf", [V, "optim.lr=inf"], ["optim.lr=inf"]),
    ("lr 1e400", [V, "optim.lr=1e400"], ["optim.lr=inf"]),
    ("lr negative", [V, "optim.lr=-1"], ["optim.lr=-1", "> 0"]),
    ("gamma nan", [V, "schedule=step", "schedule.gamma=nan"], ["schedule.gamma=nan"]),
    ("momentum above 1", [V, "optim=momentum", "optim.momentum=1.5"], ["optim.momentum=1.5"]),
    ("betas of 1", [V, "optim.betas=[0.9,1.0]"], ["optim.betas"]),
    ("dropout 1", [V, "model.dropout=1.0"], ["model.dropout=1.0"]),
    ("label smoothing nan", [V, "loss.label_smoothing=nan"], ["loss.label_smoothing=nan"]),
    ("init std negative", [V, "init=normal", "init.std=-1"], ["init.std=-1"]),
    ("clip norm negative", [V, "optim.clip.norm=-1"], ["optim.clip.norm=-1"]),
    ("ema decay 1", [V, "callbacks.averaging.name=ema", "callbacks.averaging.ema.decay=1.0"],
     ["callbacks.averaging.ema.decay=1.0"]),
    ("val fraction 0", [V, "data.val_fraction=0"], ["data.val_fraction=0"]),
    ("fractions leave no train", [V, "data.val_fraction=0.6", "data.test_fraction=0.6"], ["data.val_fraction=0.6"]),
    # integers: what numpy/torch take
    ("seed of 2**70", [V, "seed=1180591620717411303424"], ["seed=1180591620717411303424", "2**32"]),
    ("seed 2**32", [V, "seed=4294967296"], ["seed=4294967296"]),
    ("width 2**32", [V, "model.width=4294967296"], ["model.width=4294967296"]),
    ("width of 5000 digits", [V, f"model.width={WIDE}"], ["model.width=", "5000 digits"]),
    ("batch size text", [V, "data.batch_size=abc"], ["data.batch_size='abc'"]),
    ("max epochs 0", [V, "trainer.max_epochs=0"], ["trainer.max_epochs=0"]),
    ("devices 0", [V, "hardware.devices=0"], ["hardware.devices=0"]),
    ("too few samples", [V, "data=moons", "data.n_samples=3"], ["data.n_samples=3"]),
    # the run's length
    ("train batch fraction below one batch", [V, "trainer.limit_train_batches=0.001"],
     ["trainer.limit_train_batches=0.001"]),
    ("val interval past the epoch", [V, "trainer.val_check_interval=1000"], ["trainer.val_check_interval=1000"]),
    ("warmup longer than the run", [V, "schedule.warmup_steps=100000"], ["schedule.warmup_steps=100000", "400"]),
    ("warmup longer than max_steps", [V, "trainer.max_steps=10", "schedule.warmup_steps=11"],
     ["schedule.warmup_steps=11"]),
    ("warmup longer than the epochs", [V, "schedule.interval=epoch", "schedule.warmup_steps=50"],
     ["schedule.warmup_steps=50"]),
    # names and keys
    ("misspelt key", [V, "optim.lrr=0.1"], ["optim.lrr=0.1", "did you mean 'lr'"]),
    ("unknown model", [V, "model=nope"], ["model=nope", "mlp"]),
    ("added knob no optimizer has", [V, "+optim.foo=1"], ["optim.foo=1"]),
    ("task the data cannot pose", [V, "data=parity", "data.task=regression"], ["data.task='regression'"]),
    ("unknown objective", [V, "objective=val/nosuch"], ["objective='val/nosuch'"]),
    ("unknown activation", [V, "model.activation=swish"], ["model.activation='swish'"]),
    ("a group set to a number", [V, "trainer=5"], ["trainer=5"]),
    ("a needed knob deleted", [V, "~optim.lr"], ["optim.lr"]),
    ("a needed group deleted", [V, "~optim"], ["optim"]),
    ("interpolation to nothing", [V, "name=${nosuch}"], ["name", "nosuch"]),
    ("group not in the defaults", [V, "experiment=optimizers"], ["experiment=optimizers", "+experiment"]),
    ("+ on a key that exists", [V, "+seed=3"], ["+seed=3", "seed=..."]),
    ("delete a key that is not there", [V, "~nosuch"], ["~nosuch"]),
    # override syntax, in words
    ("tilde path", [V, "data.root=~/data"], ["data.root=~/data", "'~'", "quote"]),
    ("shell substitution", [V, "optim.lr=$(echo 1)"], ["optim.lr=$(echo 1)", "'('", "quote"]),
    ("unclosed list", [V, "name=[1,2"], ["name=[1,2", "unfinished"]),
    ("sweep without -m", [V, "optim.lr=0.1,0.2"], ["optim.lr=0.1,0.2", "-m"]),
    ("space in a key", [V, "opt im=2"], ["'opt im'"]),
    # data files: cheap checks
    ("csv header only", [V, "data=table", "data.path=header_only.csv", "data.target=label"],
     ["data.path='header_only.csv'", "no data rows"]),
    ("csv without the target column", [V, "data=table", "data.path=t.csv", "data.target=price"], ["data.target"]),
    ("table of the wrong format", [V, "data=table", "data.path=t.txt", "data.target=label"], ["data.path='t.txt'"]),
    ("empty text", [V, "data=text", "data.path=empty.txt"], ["data.path='empty.txt'", "empty"]),
    ("a path longer than the filesystem takes", [V, "data=table", f"data.path={LONG_NAME}.csv", "data.target=y"],
     ["data.path=", "File name too long"]),
    ("mnist files missing", [V, "data=mnist", "data.root=nowhere"], ["data.root='nowhere'"]),
    ("init from nothing", [V, "init=checkpoint"], ["init.path"]),
    ("init from a tampered checkpoint", [V, "init=checkpoint", "init.path=bad.ckpt"], ["bad.ckpt", "SHA-256"]),
    # the run folder
    ("run folder under a file", [V, "hydra.run.dir=afile/run"], ["hydra.run.dir=", "afile", "not a folder"]),
    ("a name of 5000 characters", [V, f"name={LONG_NAME}"], ["name=", "at most"]),
    ("run folder on a read-only place", [V, "hydra.run.dir=/proc/dlrun-cannot-be-here/run"],
     ["hydra.run.dir=/proc/dlrun-cannot-be-here/run", "cannot create"]),
    # Hydra's flags
    ("YAML error in a user config", [V, "--config-dir=mine", "model=broken"], ["broken.yaml:4:6", "YAML"]),
    ("unknown option with --config-dir", [V, "--config-dir=mine", "model=nosuch"], ["model=nosuch", "small"]),
    ("bad value in a user option", [V, "--config-dir=mine", "model=small", "model.width=-8"], ["model.width=-8"]),
    ("missing --config-dir", [V, "--config-dir=missing"], ["--config-dir=missing"]),
    ("unknown -cn", [V, "-cn", "nosuch"], ["--config-name=nosuch"]),
    ("unknown -cp", [V, "-cp", "/nowhere/at/all"], ["--config-path=/nowhere/at/all"]),
    ("unknown flag", [V, "--bogus"], ["--bogus"]),
    ("validate -m misspelt key", [V, "-m", "optim.lrr=0.1"], ["optim.lrr=0.1"]),
    # subcommands
    ("show nan", ["show", "optim.lr=nan"], ["optim.lr=nan"]),
    ("show with --config-dir YAML error", ["show", "--config-dir", "mine", "model=broken"], ["broken.yaml:4:6"]),
    ("ls unknown group", ["ls", "nosuch"], ["ls nosuch"]),
    ("ls missing --config-dir", ["ls", "--config-dir=missing"], ["--config-dir=missing"]),
    ("eval without a run folder", ["eval"], ["RUN_DIR"]),
    ("resume of no run folder", ["resume", "notarun"], ["notarun"]),
    ("eval of an unknown checkpoint", ["eval", "run", "ckpt=nope"], ["ckpt=nope"]),
    ("eval with a bad override", ["eval", "run", "optim.lr=nan"], ["optim.lr=nan"]),
    ("eval with an override syntax error", ["eval", "run", "data.root=~/x"], ["data.root=~/x", "quote"]),
    ("eval of a tampered checkpoint", ["eval", "run", "ckpt=checkpoints/bad.ckpt"], ["bad.ckpt", "SHA-256"]),
    ("resume with an optimizer override", ["resume", "run", "optim.lr=0.1"], ["optim.lr=0.1"]),
    ("resume with a nan", ["resume", "run", "trainer.max_epochs=nan"], ["trainer.max_epochs=nan"]),
    ("summary of no sweep", ["summary", "nosuch"], ["nosuch"]),
    # plain `dlrun` (a run) and `dlrun -m` (a sweep): the same checks before Hydra starts
    ("run lr nan", ["optim.lr=nan"], ["optim.lr=nan"]),
    ("run seed of 2**70", ["seed=1180591620717411303424"], ["seed="]),
    ("run name of 5000 characters", [f"name={LONG_NAME}"], ["name="]),
    ("run warmup longer than the run", ["schedule.warmup_steps=100000"], ["schedule.warmup_steps=100000"]),
    ("run csv header only", ["data=table", "data.path=header_only.csv", "data.target=label"], ["no data rows"]),
    ("run YAML error with --config-dir", ["--config-dir=mine", "model=broken"], ["broken.yaml:4:6"]),
    ("run unknown option with --config-dir", ["--config-dir=mine", "model=nosuch"], ["model=nosuch", "small"]),
    ("sweep misspelt key", ["-m", "optim.lrr=0.1"], ["optim.lrr=0.1", "did you mean 'lr'"]),
    ("sweep bad second choice", ["-m", "model=mlp,nosuch"], ["model=nosuch"]),
    ("sweep nan", ["-m", "optim.lr=nan,0.1"], ["optim.lr=nan"]),
    ("sweep log interval from 0", ["-m", "optim.lr=tag(log, interval(0, 1))"], ["optim.lr=", "log interval"]),
    ("sweep folder under a file", ["-m", "hydra.sweep.dir=afile/sweep", "optim.lr=0.1,0.2"], ["hydra.sweep.dir="]),
    ("sweep objectives unknown metric", ["-m", "objective=[val/loss,val/f1]", "optim.lr=0.1,0.2"],
     ["objective=", "val/f1", "params or wall_time"]),
    ("sweep objectives empty", ["-m", "objective=[]", "optim.lr=0.1,0.2"], ["objective=[]", "a list of distinct"]),
    ("sweep objectives repeated", ["-m", "objective=[val/loss,params,val/loss]", "optim.lr=0.1,0.2"],
     ["objective=", "distinct"]),
    ("sweep objectives params first", ["-m", "objective=[params,val/loss]", "optim.lr=0.1,0.2"],
     ["objective=", "picks the best checkpoint"]),
    ("sweep objectives pruned", ["-m", "objective=[val/loss,params]", "hydra.sweeper.pruner=median",
                                 "optim.lr=0.1,0.2"], ["hydra.sweeper.pruner=median", "multi-objective"]),
    ("sweep objectives directions", ["-m", "objective=[val/loss,params]", "hydra.sweeper.direction=[minimize]",
                                     "optim.lr=0.1,0.2"], ["hydra.sweeper.direction=", "one direction per objective"]),
]

# issue 22: corrupt files under every subcommand that reads them
DAMAGED_SUMMARY_WORDS = {"cut_summary": "cut-short JSON", "garbage_summary": "invalid or cut-short JSON",
                         "list_summary": "a JSON list", "statusless_summary": "without a status",
                         "binary_summary": "not UTF-8"}
CASES += [(f"{command} of a run whose summary.json is {name.split('_')[0]}", [command, name],
           [f"{name}/summary.json", DAMAGED_SUMMARY_WORDS[name], "damaged"])
          for name in DAMAGED_SUMMARIES for command in ("eval", "resume", "summary")]
CASES += [(f"{' '.join([command, *extra])} of a run whose saved config is {name.split('_')[0]}", [command, name, *extra],
           [f"{name}/.hydra/config.yaml", "not a readable run config"])
          for name in DAMAGED_CONFIGS for command, extra in (("eval", []), ("resume", []), ("eval", ["ckpt=last"]))]
CASES += [(f"{command} of a sweep whose study.journal is {name.split('_')[0]}", [command, name], [name])
          for name in DAMAGED_JOURNALS for command in ("summary", "refine", "report")]
CASES += [
    ("refine of a run folder", ["refine", "cut_summary"], ["no study.journal"]),
    ("report of a run folder", ["report", "garbage_summary"], ["no study.journal"]),
    ("report into a place under a file", ["report", "garbage_journal", "out=afile/report"], ["garbage_journal"]),
    ("report out= under a file", ["report", "run", "out=afile/report"], ["out=afile/report", "cannot create"]),
    ("report out= that cannot be created", ["report", "run", "out=/proc/dlrun-report"],
     ["out=/proc/dlrun-report", "cannot create"]),
    ("summary with an unknown argument", ["summary", "garbage_journal", "out=x"], ["out=x", "usage"]),
    ("refine top=0", ["refine", "garbage_journal", "top=0"], ["top=0", ">= 1"]),
    ("init into a run folder", ["init", "run"], ["run", "not an empty folder"]),
    ("ls unknown option", ["ls", "model", "nosuch"], ["unknown model 'nosuch'"]),
    # what validation can know, refused before a run folder exists (exit 1 after it, before)
    ("gpu where there is none", [V, "hardware=gpu"], ["hardware.accelerator=gpu", "no GPU"]),
    ("run on a gpu where there is none", ["hardware=gpu"], ["hardware.accelerator=gpu", "no GPU"]),
    ("patch that does not divide the image", [V, "model=transformer", "model.patch_size=3"],
     ["model.patch_size=3 does not divide the 8x8 images"]),
    ("run with a patch that does not divide", ["model=transformer", "model.patch_size=5"], ["model.patch_size=5"]),
    ("sweep over a patch that does not divide", ["-m", "model=transformer", "model.patch_size=2,3"],
     ["model.patch_size=3"]),
    ("a model knob deleted", [V, "~model.width"], ["model.width: missing", "model=mlp"]),
    ("run with a model knob deleted", ["~model.depth"], ["model.depth: missing"]),
    ("an optimizer knob deleted", [V, "~optim.betas"], ["optim.betas: missing", "optim=adam"]),
    ("mlflow uri of an unknown scheme", [V, "logger=mlflow", "logger.mlflow.tracking_uri=ftp://nowhere"],
     ["logger.mlflow.tracking_uri='ftp://nowhere'"]),
    ("mlflow store under a file", [V, "logger=mlflow", "logger.mlflow.tracking_uri=afile/mlruns"],
     ["logger.mlflow.tracking_uri='afile/mlruns'"]),
    ("mlflow sqlite under a file", ["logger=mlflow", "logger.mlflow.tracking_uri=sqlite:///afile/m.db"],
     ["logger.mlflow.tracking_uri="]),
    ("npz of uneven arrays", [V, "data=table", "data.path=uneven.npz", "data.target=label"],
     ["different numbers of rows", "b 40"]),
    ("run on an npz of uneven arrays", ["data=table", "data.path=uneven.npz", "data.target=label"], ["b 40"]),
    # accepted typos
    ("a misspelt knob added with +", [V, "+model.widht=8"], ["model.widht", "did you mean 'width'"]),
    ("run with a misspelt knob added", ["+model.widht=8"], ["model.widht"]),
    ("sweep with a misspelt knob added", ["-m", "+model.widht=8", "optim.lr=0.1,0.2"], ["model.widht"]),
    ("an unknown node added with ++", [V, "++nope.key=1"], ["nope: no such knob"]),
    ("a tracker knob misspelt", [V, "logger=wandb", "+logger.wandb.projekt=x"], ["logger.wandb.projekt", "project"]),
    ("a trainer knob added", [V, "+trainer.max_epoch=3"], ["trainer.max_epoch", "max_epochs"]),
    ("a tracker switched by a word", [V, "logger.csv=maybe"], ["logger.csv='maybe'", "true, false"]),
    ("eval with a misspelt knob added", ["eval", "run", "+model.widht=8"], ["model.widht"]),
    ("resume with a misspelt knob added", ["resume", "run", "+trainer.max_epoch=3"], ["trainer.max_epoch"]),
    # option files that are not mappings
    ("option file of a scalar", [V, "--config-dir=mine", "model=scalar"], ["model=scalar", "scalar.yaml", "int"]),
    ("option file of a list", [V, "--config-dir=mine", "model=alist"], ["model=alist", "alist.yaml", "list"]),
    ("run an option file of a list", ["--config-dir=mine", "model=alist"], ["alist.yaml"]),
    ("show an option file of a scalar", ["show", "--config-dir=mine", "model=scalar"], ["scalar.yaml"]),
    ("data option file of words", [V, "--config-dir=mine", "data=words"], ["data=words", "words.yaml", "str"]),
    ("sweep over an option file of a list", ["-m", "--config-dir=mine", "model=mlp,alist"], ["alist.yaml"]),
    # search spaces in dlrun's words
    ("range with a step of 0", ["-m", "optim.lr=range(1,5,0)"], ["optim.lr=range(1,5,0)", "step must not be 0"]),
    ("range of no values", ["-m", "seed=range(5,1)"], ["seed=range(5,1)", "holds no value"]),
    ("float range with a step of 0", [V, "-m", "optim.lr=range(0.1,0.5,0)"], ["step must not be 0"]),
    ("empty choice", ["-m", "model=choice()"], ["model=choice()", "at least one option"]),
    ("empty choice validated", [V, "-m", "optim.lr=choice()"], ["optim.lr=choice()", "at least one option"]),
]


def _directories(root: Path) -> set:
    return {path for path in root.rglob("*") if path.is_dir()}


def _run_case(root: Path, case) -> dict:
    name, args, _ = case
    cwd = root / f"case{CASES.index(case)}"
    cwd.mkdir()
    _everything(cwd)
    before = _directories(cwd)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "0",
           "CUDA_VISIBLE_DEVICES": "-1"}  # "a GPU where there is none" on any machine
    done = subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)
    return {"code": done.returncode, "output": done.stdout + done.stderr,
            "new_folders": sorted(str(p.relative_to(cwd)) for p in _directories(cwd) - before)}


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory):
    """{case id: outcome}: every case in a new `dlrun` process, two at a time."""
    global SAVED_CONFIG
    from omegaconf import OmegaConf

    from dlrun.config.compose import compose, without_hydra

    SAVED_CONFIG = OmegaConf.to_yaml(without_hydra(compose(["trainer.progress_bar=false"])))
    root = tmp_path_factory.mktemp("bad_input")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: _run_case(root, case), CASES))
    return {case[0]: result for case, result in zip(CASES, results)}


def test_the_table_covers_every_group_and_subcommand():
    assert len(CASES) >= 150
    assert len({name for name, _, _ in CASES}) == len(CASES)
    every = ("validate", "show", "ls", "eval", "resume", "summary", "refine", "report", "init")
    assert {args[0] for _, args, _ in CASES if args[0] in every} == set(every)
    keys = " ".join(" ".join(args) for _, args, _ in CASES)
    for group in ("optim.", "schedule.", "model.", "data.", "init", "trainer.", "hardware.", "callbacks.", "loss.",
                  "seed=", "name=", "hydra.run.dir", "hydra.sweep.dir", "--config-dir", "-cn", "-cp", "-m"):
        assert group in keys, group


@pytest.mark.slow
@pytest.mark.parametrize("name, args, expected", CASES, ids=[case[0] for case in CASES])
def test_bad_input_exits_2_in_at_most_3_lines_naming_the_key(outcomes, name, args, expected):
    outcome = outcomes[name]
    output = outcome["output"]
    assert outcome["code"] == 2, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    lines = output.strip().splitlines()
    assert 1 <= len(lines) <= 3, output
    for text in expected:
        assert text in output, f"{text!r} missing from: {output}"
    assert outcome["new_folders"] == [], f"folders made by a refused command: {outcome['new_folders']}"


def test_ls_show_validate_take_config_dir_and_list_your_options(tmp_path):
    _user_configs(tmp_path)
    listed = run_cli(["ls", "model", "--config-dir", "mine"], cwd=tmp_path)
    assert listed.returncode == 0, listed.output
    small = next(line for line in listed.stdout.splitlines() if " small " in line)
    assert "a small mlp" in small and str(tmp_path / "mine") in small
    assert "mlp (default)" in listed.stdout and "cnn" in listed.stdout  # dlrun's own options too
    shown = run_cli(["show", "--config-dir=mine", "model=small"], cwd=tmp_path)
    assert shown.returncode == 0 and "width: 8" in shown.stdout, shown.output
    checked = run_cli(["validate", "--config-dir=mine", "model=small", f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.startswith("ok: model=mlp"), checked.output
    assert not (tmp_path / "r").exists() and not list(tmp_path.glob(".dlrun-check-*"))
