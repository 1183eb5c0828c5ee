"""One run end to end: the default experiment, its run folder, determinism, failures."""

from __future__ import annotations

import csv

import pytest
from omegaconf import OmegaConf

import dlrun
from conftest import TINY, only_run_dir, read_json
from dlrun.config.validate import ConfigError


@pytest.mark.slow
def test_default_experiment_reaches_095_and_fills_the_run_folder(cli, tmp_path):
    result = cli()
    assert result.returncode == 0, result.output[-3000:]
    run_dir = only_run_dir(tmp_path / "outputs" / "runs")
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "completed"
    assert summary["test"]["test/acc"] >= 0.95
    assert summary["global_step"] == summary["config"]["trainer"]["max_epochs"] * 20  # 1257 train images / 64
    assert summary["best"]["val/loss"] == pytest.approx(summary["objective"]["value"])
    assert summary["best"]["val/loss"] <= summary["final"]["val/loss"]
    assert summary["best_checkpoint"].endswith("checkpoints/best.ckpt")
    for name in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "plots/curves.png", "run.log",
                 ".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml"):
        assert (run_dir / name).stat().st_size > 0, name
    saved = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    assert saved.model.name == "mlp" and saved.data.name == "digits" and saved.optim.name == "adam"
    with open(run_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    val_losses = [float(row["val/loss"]) for row in rows if row.get("val/loss")]
    assert len(val_losses) == summary["config"]["trainer"]["max_epochs"]
    assert val_losses[-1] < val_losses[0] / 3, "validation loss must fall"
    assert "run folder" in result.stdout and str(run_dir) in result.stdout.replace("\n", "")


def test_same_seed_same_val_loss_other_seed_differs(tmp_path):
    first = dlrun.run([*TINY, "seed=3"], run_dir=tmp_path / "a")
    second = dlrun.run([*TINY, "seed=3"], run_dir=tmp_path / "b")
    other = dlrun.run([*TINY, "seed=4"], run_dir=tmp_path / "c")
    assert first["status"] == second["status"] == "completed"
    assert first["final"]["val/loss"] == second["final"]["val/loss"]
    assert first["final"]["val/loss"] != other["final"]["val/loss"]
    assert read_json(tmp_path / "a" / "summary.json")["final"] == first["final"]


def test_api_rejects_bad_config_before_creating_anything(tmp_path):
    with pytest.raises(ConfigError, match=r"optim\.lr=-1"):
        dlrun.run(["optim.lr=-1"], run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_api_refuses_a_sweep_and_leaves_the_commands_folder_for_a_run(tmp_path, monkeypatch):
    """dlrun.run() is the command's run path: a sweep is refused before anything exists; a run's
    folder holds what the command's holds (Hydra's three .hydra/ files, the record naming it)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"runs one run in this process; a sweep \(-m\)"):
        dlrun.run(["-m", "optim.lr=0.1,0.2"])
    assert not (tmp_path / "outputs").exists()
    summary = dlrun.run([*TINY, "seed=5"], run_dir=tmp_path / "run")
    folder = tmp_path / "run"
    assert sorted(path.name for path in (folder / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    assert OmegaConf.load(folder / ".hydra" / "overrides.yaml") == [*TINY, "seed=5"]
    record = read_json(folder / "record.json")
    assert record["kind"] == "dlrun.run()" and record["command"].endswith("seed=5") and record["seeds"]["seed"] == 5
    assert summary["run_dir"] == str(folder.resolve()) and summary["config"]["seed"] == 5


def test_failed_run_writes_summary_with_error_and_exits_nonzero(cli, tmp_path):
    result = cli(*TINY, "+model._target_=helpers_models.ExplodingNet", "+model.fail_at_step=3")
    assert result.returncode == 1, result.output[-3000:]
    run_dir = only_run_dir(tmp_path / "outputs" / "runs")
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "failed"
    assert "deliberate failure at forward call 4" in summary["error"]
    assert summary["global_step"] == 3
    assert summary["wall_time_s"] > 0
    assert "deliberate failure" in result.output


def test_hardware_threads_sets_torch_threads_for_the_run(tmp_path):
    import torch

    try:
        summary = dlrun.run([*TINY, "trainer.max_epochs=1", "hardware.threads=2"], run_dir=tmp_path)
        assert summary["status"] == "completed" and summary["config"]["hardware"]["threads"] == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
