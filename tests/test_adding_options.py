"""Adding an optimizer or a dataset touches its own module entry and its YAML, nothing else.

Shown on a copy of the dlrun package, as a contributor would change it: the test writes the
table entry (with any new knob's declaration beside it), the YAML, and for a dataset its
loader module; no other file changes. The real `dlrun`, run from that copy in a subprocess,
then refuses a bad value of the new knob (exit 2, naming it), lists the option (`dlrun ls`)
and trains with it (summary.json completed, finite loss, accuracy above chance).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO, TINY, only_run_dir, read_json, run_cli

ASGD_KNOBS = '''\
    "lambd": Knob(number(0), "ASGD's decay term"),
    "t0": Knob(number(0), "ASGD starts averaging at this step"),
'''
ASGD_ENTRY = '''\
    "asgd": Option(impl="torch.optim:ASGD", knobs=("lr", "lambd", "alpha", "t0", "weight_decay")),
'''
ASGD_YAML = """\
# ASGD: SGD with iterate averaging (added by tests/test_adding_options.py)
defaults:
  - clip: none
  - _self_

name: asgd
lr: 0.01
lambd: 1.0e-4
alpha: 0.75
t0: 1.0e6
weight_decay: 0.0
"""

HALVES_MODULE = '''\
"""Gaussian points labelled by which side of a random hyperplane they lie (added by a test)."""

import torch

from dlrun.data.spec import DataSpec
from dlrun.data.splits import tensor_splits


def load(cfg_data, seed):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(cfg_data["n_samples"], cfg_data["n_features"], generator=generator)  # (N, features)
    normal = torch.randn(cfg_data["n_features"], generator=generator)
    targets = (inputs @ normal > 0).long()
    spec = DataSpec(modality="vector", task="classification", input_shape=(cfg_data["n_features"],), num_classes=2)
    return tensor_splits(spec, inputs, targets, cfg_data, seed)
'''
HALVES_ENTRY = '''\
    "halves": DataEntry(impl="dlrun.data.halves:load", modality="vector", tasks=("classification",),
                        knobs=("n_samples", "n_features")),
'''
HALVES_YAML = """\
# Two half-spaces: points on either side of a random hyperplane (added by tests/test_adding_options.py)
defaults:
  - split@_here_: standard
  - _self_

name: halves
n_samples: 2000
n_features: 4
"""


YAMLS = {"asgd": ASGD_YAML, "halves": HALVES_YAML}


def _insert_after(path: Path, anchor: str, text: str) -> None:
    source = path.read_text()
    assert source.count(anchor) == 1, f"{anchor!r} in {path}"
    path.write_text(source.replace(anchor, anchor + text))


@pytest.fixture(scope="module")
def extended_dlrun(tmp_path_factory) -> Path:
    """A copy of the dlrun package with ASGD and the halves dataset added: their entries, their
    YAMLs and the dataset's loader module, nothing else."""
    root = tmp_path_factory.mktemp("extended")
    package = root / "dlrun"
    shutil.copytree(REPO / "dlrun", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = {path.relative_to(package) for path in package.rglob("*")}
    _insert_after(package / "recipe" / "optim.py", "OPTIM_KNOBS = {\n", ASGD_KNOBS)
    _insert_after(package / "recipe" / "optim.py", "OPTIMIZERS: dict[str, Option] = {\n", ASGD_ENTRY)
    (package / "conf" / "optim" / "asgd.yaml").write_text(ASGD_YAML)
    (package / "data" / "halves.py").write_text(HALVES_MODULE)
    _insert_after(package / "data" / "datasets.py", "DATASETS: dict[str, DataEntry] = {\n", HALVES_ENTRY)
    (package / "conf" / "data" / "halves.yaml").write_text(HALVES_YAML)
    added = {path.relative_to(package) for path in package.rglob("*")} - before
    assert added == {Path("conf/optim/asgd.yaml"), Path("data/halves.py"), Path("conf/data/halves.yaml")}
    return root


def _dlrun(extended: Path, cwd: Path, *args):
    """The real CLI with the extended copy first on the path (REPO after it: the sweeper plugin)."""
    path = os.pathsep.join([str(extended), str(REPO / "tests"), str(REPO)])
    return run_cli(list(args), cwd=cwd, env={"PYTHONPATH": path})


@pytest.mark.parametrize("group, name, bad_value", [
    ("optim", "asgd", "optim.lambd=-1"),
    ("data", "halves", "data.n_features=0"),
])
def test_a_new_option_is_validated_and_listed(extended_dlrun, tmp_path, group, name, bad_value):
    refused = _dlrun(extended_dlrun, tmp_path, "validate", f"{group}={name}", bad_value)
    assert refused.returncode == 2, refused.output
    assert f"{bad_value}: expected" in refused.stderr
    assert "Traceback" not in refused.output
    accepted = _dlrun(extended_dlrun, tmp_path, "validate", f"{group}={name}")
    assert accepted.returncode == 0, accepted.output
    listed = _dlrun(extended_dlrun, tmp_path, "ls", group)
    assert listed.returncode == 0, listed.output
    description = (YAMLS[name].splitlines()[0].lstrip("# ").split(" (added")[0])
    assert any(name in line and description in line for line in listed.stdout.splitlines()), listed.stdout


@pytest.mark.slow
def test_a_new_optimizer_and_a_new_dataset_train(extended_dlrun, tmp_path):
    result = _dlrun(extended_dlrun, tmp_path, "optim=asgd", "optim.lr=0.1", "data=halves", *TINY, "trainer.max_epochs=3",
                    "hardware.threads=1", "logger=none", "trainer.test_after_fit=false")
    assert result.returncode == 0, result.output
    summary = read_json(only_run_dir(tmp_path / "outputs") / "summary.json")
    assert summary["status"] == "completed"
    assert summary["config"]["optim"]["name"] == "asgd" and summary["config"]["data"]["name"] == "halves"
    assert math.isfinite(summary["final"]["val/loss"])
    assert summary["final"]["val/acc"] > 0.7, summary["final"]  # chance: 0.5
