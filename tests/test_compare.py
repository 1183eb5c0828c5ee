"""`dlrun compare RUN_DIR...`: runs side by side, through the real command."""

from __future__ import annotations

import csv

import pytest

from conftest import TINY, read_json, run_cli

from dlrun.base.errors import BadInput
from dlrun.report.compare import differing_keys, run_folders
from dlrun.report.runs import format_value

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _table(path) -> list:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_differing_keys_are_the_dotted_keys_whose_values_differ():
    first = {"optim": {"name": "adam", "lr": 0.001}, "seed": 0, "model": {"width": 8}}
    second = {"optim": {"name": "adam", "lr": 0.01}, "seed": 0, "model": {"width": 8, "depth": 2}}
    assert differing_keys([first, second]) == ["optim.lr", "model.depth"]
    assert differing_keys([first, first]) == []


def test_folders_that_are_not_two_runs_are_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text("{}")
    with pytest.raises(BadInput, match="1 run; compare needs two or more"):
        run_folders([tmp_path / "run"])
    with pytest.raises(BadInput, match="not a run folder"):
        run_folders([tmp_path / "run", tmp_path / "elsewhere"])


def test_a_bad_command_line_exits_2_in_one_line(tmp_path):
    result = run_cli(["compare", str(tmp_path / "nothing"), str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.output
    assert result.stderr.strip() == f"dlrun compare: {tmp_path / 'nothing'}: not a run folder (no summary.json) " \
                                    "nor a sweep folder with trial runs"


def _check_comparison(result, run_dirs) -> None:
    assert result.returncode == 0, result.output
    assert "config keys that differ: optim.lr" in result.stdout
    figure = next(line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("curves: "))
    table = next(line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("table: "))
    with open(figure, "rb") as handle:
        assert handle.read(8) == PNG_MAGIC
    rows = _table(table)
    assert [row["run"] for row in rows] == [str(run_dir) for run_dir in run_dirs]
    for row, run_dir in zip(rows, run_dirs):
        summary = read_json(run_dir / "summary.json")
        assert float(row["optim.lr"]) == summary["config"]["optim"]["lr"]
        assert float(row["test.test/acc"]) == summary["test"]["test/acc"]  # the very value, not a rounding
        assert float(row["best.val/loss"]) == summary["best"]["val/loss"]
        assert format_value(summary["test"]["test/acc"], 4) in result.stdout  # on the console too
    assert len({row["optim.lr"] for row in rows}) == 2


@pytest.mark.slow
def test_compare_two_runs_with_another_learning_rate(tmp_path):
    run_dirs = [tmp_path / "slow", tmp_path / "fast"]
    for run_dir, lr in zip(run_dirs, ("0.001", "0.05")):
        trained = run_cli([*TINY, f"optim.lr={lr}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
        assert trained.returncode == 0, trained.output
    result = run_cli(["compare", *map(str, run_dirs)], cwd=tmp_path)
    _check_comparison(result, run_dirs)
    out = [path for path in tmp_path.iterdir() if path.name.startswith("compare_slow_")]
    assert len(out) == 1 and (out[0] / "curves.png").is_file()  # beside the first run, not inside it
    assert not (run_dirs[0] / "curves.png").exists()
    elsewhere = run_cli(["compare", *map(str, run_dirs), f"out={tmp_path / 'mine'}"], cwd=tmp_path)
    assert f"curves: {tmp_path / 'mine' / 'curves.png'}" in elsewhere.stdout


@pytest.mark.slow
def test_compare_a_sweep_folder_means_all_its_trials(tmp_path):
    sweep = tmp_path / "sweep"
    swept = run_cli(["-m", *TINY, "optim.lr=0.001,0.05", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert swept.returncode == 0, swept.output
    result = run_cli(["compare", str(sweep)], cwd=tmp_path)
    _check_comparison(result, [sweep / "0", sweep / "1"])
