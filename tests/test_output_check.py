"""A model whose output does not fit the data is refused on one real batch, before training:
exit 2, one line (expected vs got), no traceback, no training step (issue 22)."""

from __future__ import annotations

import pytest

from conftest import TINY, only_run_dir, read_json

USER_MODEL = "+model._target_=helpers_models."


@pytest.mark.parametrize("overrides, expected", [
    # a 4-class dataset, a head 3 wider: today it would train to `completed` with meaningless accuracy
    (["data=blobs", USER_MODEL + "WideNet", "+model.extra=3"], "output shape (2, 7)"),
    (["data=blobs", USER_MODEL + "NanNet"], "its output holds nan"),
])
def test_a_model_that_does_not_fit_the_data_stops_before_training(cli, tmp_path, overrides, expected):
    result = cli(*TINY, *overrides)
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    problem = [line for line in result.stderr.splitlines() if line.startswith("  model ")]
    assert len(problem) == 1 and expected in problem[0], result.stderr
    if "shape" in expected:
        assert "expected (2, 4)" in problem[0] and "4 classes" in problem[0]
    summary = read_json(only_run_dir(tmp_path) / "summary.json")
    assert summary["status"] == "failed" and expected in summary["error"]
    assert summary["global_step"] == 0 and not summary["last_checkpoint"]


def test_every_task_shape_of_the_built_in_models_passes_and_a_wrong_one_is_named():
    """The expected shapes per task (classification, sequence per position, regression)."""
    import torch
    from torch import nn

    from dlrun.data.spec import DataSpec
    from dlrun.training.output_check import output_problem

    sequence = DataSpec("tokens", "sequence", (5,), num_classes=3, vocab_size=4)
    tokens = torch.zeros(2, 5, dtype=torch.long)
    per_position = nn.Sequential(nn.Embedding(4, 3))  # (N, T, 3)
    assert output_problem(per_position, sequence, tokens, torch.zeros(2, 5, dtype=torch.long)) is None
    pooled = nn.Sequential(nn.Embedding(4, 3), nn.Flatten(), nn.LazyLinear(3))  # (N, 3): positions dropped
    problem = output_problem(pooled, sequence, tokens, torch.zeros(2, 5, dtype=torch.long))
    assert "output shape (2, 3)" in problem and "expected (2, 5, 3)" in problem and "per position" in problem
    regression = DataSpec("vector", "regression", (4,), target_dim=2)
    inputs, targets = torch.ones(2, 4), torch.zeros(2, 2)
    assert output_problem(nn.Linear(4, 2), regression, inputs, targets) is None
    assert "expected (2, 2)" in output_problem(nn.Linear(4, 1), regression, inputs, targets)
    single = DataSpec("vector", "regression", (4,), target_dim=1)
    squeezed = nn.Sequential(nn.Linear(4, 1), nn.Flatten(0))  # (N,) scores the same targets as (N, 1)
    assert output_problem(squeezed, single, inputs, torch.zeros(2, 1)) is None


def test_a_model_too_big_for_the_machine_is_refused_before_allocating(cli, tmp_path):
    """Width 2**30: hundreds of GB of weights. Estimated on the meta device (nothing allocated),
    refused in one line, exit 2, before the first step."""
    result = cli(*TINY, "model.width=1073741824")
    assert result.returncode == 2, result.output[-2000:]
    assert "Traceback" not in result.output
    problem = [line for line in result.stderr.splitlines() if "training needs at least" in line]
    assert len(problem) == 1 and "GB of RAM" in problem[0] and "model.width" in problem[0], result.stderr
    summary = read_json(only_run_dir(tmp_path) / "summary.json")
    assert summary["status"] == "failed" and summary["global_step"] == 0


@pytest.mark.parametrize("overrides", [["model=mlp"], ["model=cnn"], ["model=resnet"], ["model=transformer"],
                                       ["model=gru", "data=copy"], ["model=tcn", "data=copy"],
                                       ["model=transformer", "data=copy"]])
def test_the_built_in_models_are_estimated_and_fit(overrides):
    from dlrun.config.compose import compose
    from dlrun.config.validate import validated
    from dlrun.data.module import DataModule
    from dlrun.training.memory_check import _activation_elements, _meta_model, memory_problem

    cfg = validated(compose(overrides))
    spec = DataModule(cfg.data, cfg.seed).spec
    model = _meta_model(cfg, spec)
    assert sum(p.numel() for p in model.parameters()) > 0 and _activation_elements(model, spec, 2) > 0
    assert memory_problem(cfg, spec) is None
