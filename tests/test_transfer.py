"""Transfer learning with init=checkpoint: train on digits, load that run into a new one on
another seed (another train/val split) with the backbone frozen; frozen weights stay put,
the head trains. Plus the loader's reports and errors on real files."""

from __future__ import annotations

import pytest
import torch

import dlrun
from conftest import read_json
from dlrun.config.compose import compose
from dlrun.data.spec import DataSpec
from dlrun.models.zoo import build_model
from dlrun.config.validate import ConfigError
from dlrun.recipe.transfer import CheckpointError, init_from_checkpoint, load_state_dict

QUIET = ["trainer.progress_bar=false", "trainer.test_after_fit=false"]


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A real run on digits: 2 full epochs (40 steps), best and last checkpoints."""
    run_dir = tmp_path_factory.mktemp("source")
    summary = dlrun.run([*QUIET, "trainer.max_epochs=2", "seed=0"], run_dir=run_dir)
    assert summary["status"] == "completed"
    return run_dir


def _checkpoint_init(path, *overrides):
    return compose(["init=checkpoint", f"init.path={path}", *overrides]).init


def _mlp(num_classes=10):
    spec = DataSpec(modality="image", task="classification", input_shape=(1, 8, 8), num_classes=num_classes)
    return build_model(compose([]).model, spec)


def test_frozen_backbone_stays_put_and_the_head_trains_on_another_split(source_run, tmp_path):
    summary = dlrun.run([*QUIET, "trainer.max_epochs=2", "seed=1", "optim.lr=0.01", "init=checkpoint",
                         f"init.path={source_run}", "init.freeze=[body]"], run_dir=tmp_path)
    assert summary["status"] == "completed"
    loaded = load_state_dict(source_run / "checkpoints" / "best.ckpt")
    after = load_state_dict(tmp_path / "checkpoints" / "last.ckpt")
    body = [name for name in loaded if name.startswith("body.")]
    assert body, "the MLP backbone has parameters"
    for name in body:
        assert torch.equal(after[name], loaded[name]), f"frozen {name} changed"
    for name in ("head.weight", "head.bias"):
        assert (after[name] - loaded[name]).abs().max() > 1e-3, f"{name} did not train"
    assert summary["best"]["val/acc"] > 0.9, "a head on the transferred features classifies the other split"
    log_text = (tmp_path / "run.log").read_text()
    assert "init=checkpoint: loaded 6 of 6 tensors" in log_text and "frozen: body" in log_text


def test_head_with_a_new_shape_keeps_its_fresh_init_and_the_rest_loads(source_run):
    torch.manual_seed(0)
    model = _mlp(num_classes=5)
    fresh_head = model.head.weight.detach().clone()
    report = init_from_checkpoint(model, _checkpoint_init(source_run, "init.which=last"))
    assert report.source == source_run / "checkpoints" / "last.ckpt"
    assert report.reshaped == {"head.weight": ((10, 256), (5, 256)), "head.bias": ((10,), (5,))}
    assert report.loaded == ["body.0.bias", "body.0.weight", "body.4.bias", "body.4.weight"]
    saved = load_state_dict(report.source)
    assert torch.equal(model.body[0].weight, saved["body.0.weight"])
    assert torch.equal(model.head.weight, fresh_head)


@pytest.mark.parametrize("wrap", [lambda state: state, lambda state: {"state_dict": state}], ids=["plain", "wrapped"])
def test_a_saved_state_dict_file_loads_and_freezes_by_pattern(tmp_path, wrap):
    torch.manual_seed(1)
    source = _mlp()
    torch.save(wrap(source.state_dict()), tmp_path / "weights.pt")
    model = _mlp()
    report = init_from_checkpoint(model, _checkpoint_init(tmp_path / "weights.pt", "init.freeze=[body.*]"))
    assert len(report.loaded) == 6 and not report.reshaped and not report.missing
    assert report.frozen == [f"body.{index}" for index in range(8)]
    assert torch.equal(model.head.weight, source.head.weight)
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]


def test_frozen_batch_norm_keeps_its_running_statistics(tmp_path):
    spec = DataSpec(modality="vector", task="classification", input_shape=(6,), num_classes=3)
    model = build_model(compose(["model.norm=batch", "model.width=8"]).model, spec)
    torch.save(model.state_dict(), tmp_path / "bn.pt")
    init_from_checkpoint(model, _checkpoint_init(tmp_path / "bn.pt", "init.freeze=[body]"))
    before = model.body[1].running_mean.clone()
    model.train()
    model(torch.randn(32, 6) * 5 + 3)
    assert torch.equal(model.body[1].running_mean, before)


@pytest.mark.parametrize("content, message", [
    (b"definitely not a checkpoint", "cannot read weights from"),
    (None, "cannot read weights from"),  # a pickled nn.Module: weights_only refuses it
    ({"other.weight": torch.zeros(2, 2)}, "no tensor in"),
    ({"epoch": 3}, "holds no state_dict"),
])
def test_unreadable_or_mismatched_files_fail_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(_mlp() if content is None else content, path)
    with pytest.raises(CheckpointError, match=message) as error:
        init_from_checkpoint(_mlp(), _checkpoint_init(path))
    assert str(path) in str(error.value)


def test_freeze_pattern_matching_nothing_lists_the_modules(tmp_path):
    torch.save(_mlp().state_dict(), tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"'backbone' matches no module; modules: stem, body, body\.0"):
        init_from_checkpoint(_mlp(), _checkpoint_init(tmp_path / "w.pt", "init.freeze=[backbone]"))


def test_run_folder_without_checkpoints_and_missing_paths_are_clear(tmp_path):
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CheckpointError, match="run folder has no best checkpoint"):
        init_from_checkpoint(_mlp(), _checkpoint_init(tmp_path / "empty_run"))
    with pytest.raises(ConfigError, match=r"init\.path='.*nowhere'"):
        dlrun.run(["init=checkpoint", f"init.path={tmp_path / 'nowhere'}"], run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_cli_with_an_unreadable_init_checkpoint_exits_2_with_one_line(cli, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"definitely not a checkpoint")
    result = cli("init=checkpoint", f"init.path={bad}", "trainer.progress_bar=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2, result.output[-3000:]
    assert f"cannot read weights from {bad}" in result.stderr
    summary = read_json(tmp_path / "run" / "summary.json")
    assert summary["status"] == "failed" and "Traceback" not in summary["error"]
