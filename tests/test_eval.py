"""`dlrun eval RUN_DIR [ckpt=...] [overrides]`: a finished run's checkpoint tested again
gives the run's own test metrics (averaged weights included), other data of the same
spec works, and a checkpoint or data that does not fit gives a clear error."""

from __future__ import annotations

import json

import pytest

import dlrun
from conftest import TINY, read_json
from dlrun.training.checkpoint_files import recorded_path
from dlrun.cli.commands.evaluate import main as evaluate


def test_eval_of_the_best_checkpoint_reproduces_the_runs_test_metrics(tiny_run, capsys):
    summary, run_dir = tiny_run
    before = (run_dir / "summary.json").read_text()
    assert evaluate([str(run_dir)]) == 0
    written = read_json(run_dir / "eval_best_digits.json")
    assert written["metrics"] == summary["test"]
    # both recorded as the run's own file (relative to the run folder, or absolute in older runs)
    assert recorded_path(run_dir, written["checkpoint"]).resolve() == \
        recorded_path(run_dir, summary["best_checkpoint"]).resolve()
    shown = capsys.readouterr().out
    assert "test/acc" in shown and f"{summary['test']['test/acc']:.6g}" in shown
    assert (run_dir / "summary.json").read_text() == before  # the run itself is untouched


def test_eval_of_an_ema_run_tests_the_averaged_weights(tmp_path):
    summary = dlrun.run([*TINY, "callbacks.averaging.name=ema", "callbacks.averaging.ema.decay=0.9"], run_dir=tmp_path)
    assert evaluate([str(tmp_path)]) == 0
    assert read_json(tmp_path / "eval_best_digits.json")["metrics"] == summary["test"]


def test_eval_on_other_data_of_the_same_spec_with_another_checkpoint(tiny_run):
    summary, run_dir = tiny_run
    assert evaluate([str(run_dir), "ckpt=last", "data.test_fraction=0.4", "trainer.limit_test_batches=1.0"]) == 0
    written = read_json(run_dir / "eval_last_digits.json")
    assert written["data"]["test_fraction"] == 0.4 and written["checkpoint"].endswith("last.ckpt")
    assert set(written["metrics"]) == {"test/loss", "test/acc"}
    assert written["metrics"] != summary["test"]  # 40 % of the digits, all of them tested


def test_eval_refuses_data_of_another_spec(tiny_run, tmp_path, capsys):
    _, run_dir = tiny_run
    summary_file = run_dir / "summary.json"
    original = summary_file.read_text()
    changed = json.loads(original)
    changed["spec"]["num_classes"] = 11  # as if the run had trained on 11 classes
    summary_file.write_text(json.dumps(changed))
    try:
        assert evaluate([str(run_dir)]) == 2
    finally:
        summary_file.write_text(original)
    assert "eval needs data of the same spec" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["ckpt=nope"], "ckpt=nope: no checkpoint file nope (this run has: best.ckpt, last.ckpt"),
    (["model.width=8"], "does not fit the model of this config (was model.* overridden?): body.0.weight"),
    (["data=nope"], "data=nope: no such data option"),
], ids=["unknown checkpoint", "other model", "unknown data"])
def test_eval_errors_name_the_problem(tiny_run, capsys, args, message):
    _, run_dir = tiny_run
    assert evaluate([str(run_dir), *args]) == 2
    assert message in capsys.readouterr().err


def test_corrupt_checkpoint_gives_a_clear_error(tiny_run, tmp_path, capsys):
    _, run_dir = tiny_run
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes((run_dir / "checkpoints" / "best.ckpt").read_bytes()[:4000])
    assert evaluate([str(run_dir), f"ckpt={corrupt}"]) == 2
    assert f"{corrupt}: corrupt or not a checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_eval_prints_a_table(tiny_run, cli):
    summary, run_dir = tiny_run
    result = cli("eval", str(run_dir))
    assert result.returncode == 0, result.output[-3000:]
    assert "test/loss" in result.stdout and "eval_best_digits.json" in result.stdout
