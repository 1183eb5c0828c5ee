"""`dlrun init DIR`: a project of your own that runs as it is.

    DIR/mycode/models.py            a model class: knobs as keyword arguments, the DataSpec as spec=
    DIR/mycode/data.py              a data function: knobs in, (x, y) arrays out
    DIR/conf/model/tinynet.yaml     _target_: mycode.models.TinyNet and its knobs
    DIR/conf/data/rings.yaml        _target_: mycode.data.rings and its knobs
    DIR/conf/experiment/rings.yaml  the two together with a recipe
    DIR/tests/test_project.py       pytest: the data, the model, and the experiment learning
    DIR/README.md, DIR/pytest.ini

Run in DIR: `dlrun --config-dir conf +experiment=rings`. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

from dlrun.base.errors import BadInput, refusing_bad_input

USAGE = "usage: dlrun init DIR   (a new or empty folder)"
PACKAGE = "mycode"

MODELS = '''"""Your models. dlrun calls a model class with its config's knobs as keyword arguments
and the data's DataSpec as `spec=` (spec.input_shape, spec.output_dim, spec.modality, ...)."""

import math

from torch import nn


class TinyNet(nn.Module):
    """A multi-layer perceptron: flattens each sample, `depth` hidden layers of `width`."""

    def __init__(self, spec, width: int = 64, depth: int = 2, dropout: float = 0.0):
        super().__init__()
        layers, features = [nn.Flatten()], math.prod(spec.input_shape)
        for _ in range(depth):
            layers += [nn.Linear(features, width), nn.ReLU(), nn.Dropout(dropout)]
            features = width
        layers.append(nn.Linear(features, spec.output_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x):  # (N, *input_shape) -> (N, output_dim)
        return self.net(x)
'''

DATA = '''"""Your data. dlrun calls a data function with its config's knobs as keyword arguments (and
`seed=` the run's seed, since it takes one). It returns (x, y) arrays or tensors; dlrun
splits them by data.val_fraction / data.test_fraction and reads the DataSpec off them:
float x of shape (N, 2) is vector data with 2 features, integer y a class label."""

import numpy as np


def rings(n_samples: int = 1200, rings: int = 3, noise: float = 0.08, seed: int = 0):
    """Points on `rings` concentric circles in the plane; the class is the ring."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, rings, n_samples)
    radius = (labels + 1) / rings + rng.normal(0, noise, n_samples)
    angle = rng.uniform(0, 2 * np.pi, n_samples)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return points.astype(np.float32), labels
'''

MODEL_YAML = f'''# A small MLP of your own (mycode/models.py): dlrun --config-dir conf model=tinynet
name: tinynet  # the run's label (not passed to the class)
_target_: {PACKAGE}.models.TinyNet
width: 64
depth: 2
dropout: 0.0
'''

DATA_YAML = f'''# Points on concentric rings, class = ring (mycode/data.py): dlrun --config-dir conf data=rings
defaults:
  - split@_here_: standard  # batch_size, val_fraction, test_fraction as for dlrun's own datasets
  - _self_
name: rings  # the run's label (not passed to the function)
_target_: {PACKAGE}.data.rings
n_samples: 1200
rings: 3
noise: 0.08
'''

EXPERIMENT_YAML = '''# @package _global_
# Your model on your data, with a recipe. Run: dlrun --config-dir conf +experiment=rings
defaults:
  - override /model: tinynet
  - override /data: rings
  - override /schedule: cosine

name: rings
optim:
  lr: 0.01
trainer:
  max_epochs: 8
'''

TEST = '''"""The project's own checks: the data, the model, and the experiment learning (about 15 s)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from dlrun.data.spec import DataSpec
from mycode.data import rings
from mycode.models import TinyNet

PROJECT = Path(__file__).resolve().parent.parent


def test_data_has_one_label_per_point():
    x, y = rings(n_samples=100, rings=4)
    assert x.shape == (100, 2) and x.dtype == np.float32
    assert y.shape == (100,) and set(np.unique(y)) <= {0, 1, 2, 3}


def test_model_gives_one_score_per_class():
    spec = DataSpec("vector", "classification", (2,), num_classes=3)
    assert TinyNet(spec, width=8, depth=1)(torch.zeros(5, 2)).shape == (5, 3)


def test_experiment_learns_the_rings(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "dlrun", "--config-dir", "conf", "+experiment=rings", "hardware.threads=1",
               "trainer.progress_bar=false", f"hydra.run.dir={run_dir}"]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["test"]["test/acc"] >= 0.9  # about 0.97 in 8 epochs
'''

README = '''# A dlrun project

    dlrun --config-dir conf +experiment=rings                  # train: outputs/runs/...
    dlrun --config-dir conf -m +experiment=rings 'optim.lr=tag(log, interval(1e-3, 1e-1))' hydra.sweeper.n_trials=8
    dlrun --config-dir conf model=tinynet data=digits          # your model on dlrun's data
    dlrun --config-dir conf model=transformer data=rings       # dlrun's model on your data
    python -m pytest                                           # the project's own tests

- `mycode/models.py`, `conf/model/tinynet.yaml`: a model class named by `_target_`; the other
  keys are its keyword arguments, and dlrun adds `spec=` (the data's DataSpec).
- `mycode/data.py`, `conf/data/rings.yaml`: a data function named by `_target_`; it returns
  `(x, y)` and dlrun splits them, batches them and infers the DataSpec.
- `conf/experiment/rings.yaml`: both together, with a recipe (optimizer, schedule, epochs).

Run dlrun in this folder: it makes the folder importable, as `python -m` does.
'''

PYTEST_INI = '''[pytest]
testpaths = tests
pythonpath = .
'''

FILES = {
    f"{PACKAGE}/__init__.py": '"""Your own models and data for dlrun."""\n',
    f"{PACKAGE}/models.py": MODELS,
    f"{PACKAGE}/data.py": DATA,
    "conf/model/tinynet.yaml": MODEL_YAML,
    "conf/data/rings.yaml": DATA_YAML,
    "conf/experiment/rings.yaml": EXPERIMENT_YAML,
    "tests/test_project.py": TEST,
    "README.md": README,
    "pytest.ini": PYTEST_INI,
}


def write_project(root: Path) -> list:
    """Write the project's files into root; the paths written."""
    written = []
    for relative, text in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


@refusing_bad_input("init")
def main(args) -> int:
    if len(args) != 1 or args[0].startswith("-"):
        raise BadInput(USAGE)
    root = Path(args[0])
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise BadInput(f"{root}: exists and is not an empty folder; give a new folder ({USAGE})")
    try:
        write_project(root)
    except OSError as error:
        raise BadInput(f"{root}: cannot write there: {error.strerror or error}") from None
    print(f"wrote a dlrun project in {root}: a model, a dataset, an experiment and a test\n"
          f"  cd {root}\n  dlrun --config-dir conf +experiment=rings\n  python -m pytest")
    return 0
