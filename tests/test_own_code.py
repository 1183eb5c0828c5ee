"""A user's own model and data, as a new user brings them: a folder with their code and a
conf/ of YAMLs, run through the `dlrun` console script from that folder (nothing on
PYTHONPATH for them); validation reads their signatures without importing them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import heavy_imports_after, read_json

MODEL = '''
import math
from torch import nn


class SmallNet(nn.Module):
    """A user's MLP with a knob no built-in model has (an activation dlrun does not know)."""

    def __init__(self, spec, hidden: int = 32, activation: str = "swish"):
        super().__init__()
        print("SmallNet built", flush=True)  # a user's print: a run's console shows it, a sweep's run.log
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(spec.input_shape), hidden),
                                 nn.SiLU() if activation == "swish" else nn.ReLU(), nn.Linear(hidden, spec.output_dim))

    def forward(self, x):
        return self.net(x)
'''

DATA = '''
import numpy as np


def blobs(n_samples, spread: float = 0.3, features: int = 4, seed: int = 0):
    """Three Gaussian blobs; `features` is a count here (dlrun's table data means column names by it)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n_samples)
    centres = rng.normal(0, 1, (3, features)) * 2
    return centres[labels] + rng.normal(0, spread, (n_samples, features)), labels


def flat_inputs(n_samples=100):
    return np.zeros(n_samples), np.zeros(n_samples, dtype=np.int64)
'''

# In the lightning-hydra-template style: `_target_` and its knobs, nothing else. The name
# is the file's (small, myblobs); the split knobs are dlrun's defaults (conf/data/split).
MODEL_YAML = """# A user's own model
_target_: mymodels.SmallNet
hidden: 32
activation: swish
"""

DATA_YAML = """# A user's own data
_target_: mydata.blobs
n_samples: 900
spread: 0.5
features: 4
"""

QUIET = ["hardware.threads=1", "trainer.progress_bar=false", "trainer.max_epochs=3"]


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's folder: mymodels.py, mydata.py and conf/{model,data}/ naming them."""
    root = tmp_path / "myproject"
    for relative, text in {"mymodels.py": MODEL, "mydata.py": DATA, "conf/model/small.yaml": MODEL_YAML,
                           "conf/data/myblobs.yaml": DATA_YAML}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(textwrap.dedent(text))
    return root


def console_script() -> str:
    """The installed `dlrun` command (beside this Python), as a user types it."""
    beside = Path(sys.executable).parent / "dlrun"
    found = str(beside) if beside.is_file() else shutil.which("dlrun")
    if not found:
        pytest.skip("the dlrun console script is not installed (pip install -e .)")
    return found


def dlrun(cwd: Path, *args, timeout=600, env=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([console_script(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=environment)


def test_validation_checks_the_signature_without_importing_the_code(project):
    searched = "hydra.searchpath=[file://conf]"
    heavy, codes, stderr = heavy_imports_after(
        [["validate", searched, "model=small", "data=myblobs"],
         ["validate", searched, "model=small", "data=myblobs", "+model.width=3"],
         ["validate", searched, "model=small", "data=myblobs", "~data.n_samples"],
         ["validate", searched, "model=small", "data=myblobs", "model._target_=mymodels.BigNet"],
         ["validate", searched, "model=small", "data=myblobs", "data._target_=nomodule.blobs"]], cwd=project)
    assert codes == [0, 2, 2, 2, 2], stderr
    assert heavy == [], f"validation imported {heavy}"
    assert "model.width: mymodels.SmallNet takes no argument 'width'; it takes: hidden, activation" in stderr
    assert "data: mydata.blobs needs n_samples (add data.n_samples=... or defaults in the signature)" in stderr
    assert "mymodels.py defines no 'BigNet'" in stderr
    assert "data._target_=nomodule.blobs: no module 'nomodule'" in stderr
    assert "Traceback" not in stderr


def test_spec_inference_rule(tmp_path, monkeypatch):
    import numpy as np

    from dlrun.data import custom

    (tmp_path / "returns.py").write_text("def make():\n    return RETURNED\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import returns

    def loaded(returned, **declared):
        returns.RETURNED = returned
        return custom.load({"_target_": "returns.make", "name": "mine", "batch_size": 8, "val_fraction": 0.2,
                            "test_fraction": 0.2, "num_workers": 0, **declared}, seed=0)

    x, labels = np.random.rand(50, 3), np.arange(50) % 4
    spec = loaded((x, labels)).spec
    assert (spec.modality, spec.task, spec.input_shape, spec.num_classes) == ("vector", "classification", (3,), 4)
    spec = loaded((np.random.rand(20, 5, 6).astype(np.float32), np.arange(20) % 2)).spec
    assert (spec.modality, spec.input_shape) == ("image", (1, 5, 6))
    tokens = np.random.randint(0, 7, (30, 5))
    spec = loaded((tokens, tokens)).spec
    assert (spec.modality, spec.task, spec.vocab_size, spec.num_classes) == ("tokens", "sequence", 7, 7)
    spec = loaded((x, np.random.rand(50, 2))).spec
    assert (spec.task, spec.target_dim) == ("regression", 2)
    spec = loaded((tokens, tokens[:, 0]), modality="vector", num_classes=10).spec
    assert (spec.modality, spec.input_shape, spec.num_classes) == ("vector", (5,), 10)
    splits = loaded({"train": (x[:40], labels[:40]), "test": (x[40:], labels[40:])})
    assert len(splits.test[0]) == 10 and len(splits.train[0]) + len(splits.val[0]) == 40
    assert splits.train[0].dtype.is_floating_point and str(splits.train[1].dtype) == "torch.int64"


@pytest.mark.parametrize("returned, expected", [
    ("np.zeros(10)", "returned its data as ndarray of shape (10,) and dtype float64; expected an (x, y) pair"),
    ("(np.zeros(10), np.zeros(10, dtype=int))", "returned inputs of shape (10,) and dtype torch.float64; expected (N, features)"),
    ("(np.zeros((10, 2)), np.zeros(9, dtype=int))", "expected the same number N >= 1 of samples"),
    ("(np.array([['a', 'b']] * 4), np.zeros(4, dtype=int))", "inputs as ndarray of shape (4, 2) and dtype <U1; expected numbers"),
    ("{'train': (np.zeros((4, 2)), np.zeros(4, dtype=int)), 'valid': None}", "expected train; train and test; or train, val and test"),
    ("(np.zeros((10, 2)), np.full(10, 0.5))", None),  # floats: regression, fine
    ("(np.zeros((10, 2)), np.full(10, -1))", "returned labels from -1 to -1; expected 0 to 1"),
])
def test_wrong_returns_are_one_line_naming_what_was_expected(tmp_path, monkeypatch, returned, expected):
    from dlrun.data import custom
    from dlrun.base.errors import ConfigError

    module = f"wrong_{abs(hash(returned))}"
    (tmp_path / f"{module}.py").write_text(f"import numpy as np\n\ndef make():\n    return {returned}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = {"_target_": f"{module}.make", "name": "mine", "batch_size": 4, "val_fraction": 0.2, "test_fraction": 0.2}
    if expected is None:
        assert custom.load(cfg, seed=0).spec.task == "regression"
        return
    with pytest.raises(ConfigError) as raised:
        custom.load(cfg, seed=0)
    assert len(raised.value.problems) == 1 and expected in raised.value.problems[0]


def test_a_signature_seen_only_when_called_is_checked_then(tmp_path, monkeypatch):
    """A class inheriting its constructor: the source does not show the parameters, the call does."""
    from dlrun.data.spec import DataSpec
    from dlrun.base.errors import ConfigError
    from dlrun.models.zoo import build_model, own_model_problems

    (tmp_path / "inherited.py").write_text("from mymodels import SmallNet\n\nclass Child(SmallNet):\n    pass\n")
    (tmp_path / "mymodels.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = {"name": "child", "_target_": "inherited.Child", "hidden": 8, "depth": 3}
    spec = DataSpec("vector", "classification", (4,), num_classes=3)
    assert own_model_problems(cfg) == []  # the source does not say
    with pytest.raises(ConfigError, match=r"model\.depth: inherited\.Child takes no argument 'depth'; it takes: hidden, activation"):
        build_model(cfg, spec)
    model = build_model({"name": "child", "_target_": "inherited.Child", "hidden": 8}, spec)
    assert model.net[1].out_features == 8


@pytest.mark.slow
def test_own_model_and_data_learn_with_every_recipe_option_on_two_ranks(project):
    """The console script from the user's folder (--config-dir conf): kaiming init, momentum,
    one-cycle schedule, the diagnostics callbacks, hardware=ddp_cpu."""
    result = dlrun(project, "--config-dir", "conf", "model=small", "data=myblobs", "init=kaiming", "optim=momentum",
                   "optim.lr=0.05", "schedule=one_cycle", "callbacks=diagnostics", "hardware=ddp_cpu", *QUIET,
                   "hydra.run.dir=outputs/run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = read_json(project / "outputs" / "run" / "summary.json")
    assert summary["status"] == "completed" and len(summary["ranks"]) == 2
    assert summary["spec"] == {"modality": "vector", "task": "classification", "input_shape": [4], "num_classes": 3,
                               "vocab_size": None, "target_dim": None, "causal": False}
    assert summary["config"]["model"] == {"name": "small", "_target_": "mymodels.SmallNet", "hidden": 32,
                                          "activation": "swish"}
    assert summary["test"]["test/acc"] >= 0.9  # three well-separated blobs: about 1.0


def test_a_template_style_option_is_named_after_its_file_with_the_default_split(project):
    import yaml

    result = dlrun(project, "show", "--config-dir", "conf", "model=small", "data=myblobs", "data.test_fraction=0.2")
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["model"]["name"] == "small" and shown["data"]["name"] == "myblobs"
    assert (shown["data"]["val_fraction"], shown["data"]["test_fraction"], shown["data"]["batch_size"]) == (0.15, 0.2, 64)
    assert shown["data"]["n_samples"] == 900
    named = dlrun(project, "show", "--config-dir", "conf", "model=small", "data=myblobs", "model.name=tiny")
    assert yaml.safe_load(named.stdout)["model"]["name"] == "tiny", named.stderr


@pytest.mark.slow
def test_own_model_and_data_in_a_sweep_whose_console_holds_dlruns_lines_only(project):
    """A 2-trial sweep of template-style YAMLs, W&B offline: the console holds the sweep's lines
    and its progress; the user's print and W&B's lines are in each trial's run.log."""
    result = dlrun(project, "--config-dir", "conf", "-m", "model=small", "data=myblobs", "optim.lr=0.03,0.01",
                   "logger=csv_wandb", *QUIET, "hydra.sweep.dir=outputs/sweep",
                   env={"WANDB_SILENT": "false"})  # W&B says what it does, as it does for a user
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sweep = project / "outputs" / "sweep"
    summaries = [read_json(sweep / str(trial) / "summary.json") for trial in range(2)]
    assert [s["status"] for s in summaries] == ["completed"] * 2
    assert [s["config"]["optim"]["lr"] for s in summaries] == [0.03, 0.01]
    assert [s["config"]["model"]["name"] for s in summaries] == ["small"] * 2
    assert max(s["test"]["test/acc"] for s in summaries) >= 0.9
    assert "name: small" in (sweep / "0" / ".hydra" / "config.yaml").read_text()  # resume reads it outside Hydra
    console = result.stdout + result.stderr
    assert "SmallNet built" not in console and "wandb:" not in console, console
    assert "Warning" not in console and "[INFO]" not in console, console
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("trial ")]) == 2, console
    assert [line.split(",")[0] for line in lines if line.startswith("sweep: ")] == ["sweep: 1/2 trials done",
                                                                                     "sweep: 2/2 trials done"]
    assert re.search(r"^sweep: 1/2 trials done, ETA (< 1|\d+) min$", result.stdout, re.M), console
    assert len(lines) < 25, console
    for trial in range(2):
        run_log = (sweep / str(trial) / "run.log").read_text()
        assert "SmallNet built" in run_log and "wandb:" in run_log


@pytest.mark.slow
def test_data_of_the_wrong_shape_is_exit_2_in_one_line(project):
    result = dlrun(project, "--config-dir", "conf", "model=small", "data=myblobs", "data._target_=mydata.flat_inputs",
                   "~data.n_samples", "~data.spread", "~data.features", *QUIET)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    problems = [line for line in result.stderr.splitlines() if "data._target_=mydata.flat_inputs" in line]
    assert len(problems) == 1 and "inputs of shape (100,)" in problems[0] and "expected (N, features)" in problems[0]
    assert "Traceback" not in result.stderr
