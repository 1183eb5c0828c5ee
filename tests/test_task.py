"""TaskModule: what a step computes and what reaches the loggers."""

from __future__ import annotations

import csv

import torch

import dlrun
from conftest import TINY
from dlrun.data.spec import IGNORE, DataSpec
from dlrun.training.task import TaskModule


def test_sequence_accuracy_scores_only_labelled_positions():
    spec = DataSpec(modality="tokens", task="sequence", input_shape=(4,), num_classes=3, vocab_size=3)
    task = TaskModule(torch.nn.Identity(), spec, cfg_optim=None, cfg_schedule=None)
    # one sample, four positions; the model is right at positions 2 and 3 only
    logits = torch.tensor([[[0.0, 9.0, 0.0], [0.0, 9.0, 0.0], [9.0, 0.0, 0.0], [0.0, 0.0, 9.0]]])
    targets = torch.tensor([[IGNORE, IGNORE, 0, 2]])
    assert task._losses_and_metrics(logits, targets)["acc"].item() == 1.0  # not 0.5: the IGNOREs do not count
    targets = torch.tensor([[IGNORE, 0, 0, 2]])
    assert abs(task._losses_and_metrics(logits, targets)["acc"].item() - 2 / 3) < 1e-6


def test_train_metrics_reach_the_logger_every_n_steps_only(tmp_path):
    # 5 batches x 2 epochs = 10 steps, logged every 2nd: Lightning's rows for steps 1, 3, 5, 7, 9
    summary = dlrun.run([*TINY, "optim=sgd", "optim.lr=0.05"], run_dir=tmp_path)
    assert summary["status"] == "completed"
    with (tmp_path / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("train/loss")]
    assert [int(row["step"]) for row in rows] == [1, 3, 5, 7, 9]
    assert all(row["train/acc"] and abs(float(row["lr"]) - 0.05) < 1e-8 for row in rows)


def test_load_from_checkpoint_alone_rebuilds_the_trained_module(tiny_run):
    """Lightning's own way back: no model, spec or config passed; the checkpoint's
    hyperparameters (the resolved config and the DataSpec) rebuild it, weights included."""
    summary, run_dir = tiny_run
    path = summary["best_checkpoint"]
    task = dlrun.TaskModule.load_from_checkpoint(path)
    saved = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    assert task.state_dict().keys() == saved.keys()
    assert all(torch.equal(task.state_dict()[name], saved[name]) for name in saved)
    assert task.hparams["config"]["optim"]["lr"] == summary["config"]["optim"]["lr"]
    assert task.spec == DataSpec(**{**summary["spec"], "input_shape": tuple(summary["spec"]["input_shape"])})
    task.eval()
    images = torch.zeros(3, *task.spec.input_shape)
    assert task(images).shape == (3, task.spec.num_classes)


def test_import_dlrun_stays_light_and_exports_taskmodule_on_use():
    import subprocess
    import sys

    probe = ("import sys, dlrun; light = 'torch' not in sys.modules and 'lightning' not in sys.modules; "
             "print(light, dlrun.TaskModule.__name__, 'lightning' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.split() == ["True", "TaskModule", "True"], result.stderr
