"""Studies (conf/experiment/*.yaml) run through the real `dlrun -m` and the real report:
reduced versions of init_depth and residual_depth must still show their claims, and
`dlrun report` must write figures and a Markdown table that holds the runs' own numbers."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

import pytest
import yaml

from conftest import read_json, run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUIET = ["trainer.progress_bar=false", "logger=csv"]
# init_depth, reduced: relu only, 6 layers, 3 epochs, normal(0.01) against kaiming.
INIT_DEPTH = ["-m", "+experiment=init_depth", "model.activation=relu", "init=normal,kaiming", "model.depth=6",
              "model.width=32", "trainer.max_epochs=3", "seed=0", *QUIET]
# residual_depth, reduced: the deepest point only (4 blocks per stage: 17 conv layers), with and without
# skips, at 2 seeds (each configuration's 2 seeds one population): the report's mean ± sd per configuration.
RESIDUAL_DEPTH = ["-m", "+experiment=residual_depth", "model.depth=4", "model.residual=true,false", "seed=0,1",
                  "trainer.max_epochs=3", *QUIET]
CHANCE = 0.1  # ten digit classes


def _sweep(tmp_path_factory, name: str, args) -> Path:
    root = tmp_path_factory.mktemp(name)
    folder = root / name  # the report names a sweep after its folder
    result = run_cli([*args, f"hydra.sweep.dir={folder}"], cwd=root)
    assert result.returncode == 0, result.output[-3000:]
    return folder


def _summaries(folder: Path) -> dict:
    """{trial number: summary.json} of a sweep folder."""
    return {int(path.parent.name): read_json(path) for path in folder.glob("*/summary.json")}


def _markdown_rows(page: Path, heading: str = "## Runs") -> list:
    """The first Markdown table after `heading`, as [{column: text}]."""
    lines = page.read_text().split(heading, 1)[1].strip().splitlines()
    end = next((index for index, line in enumerate(lines) if not line.startswith("|")), len(lines))
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[:end]]
    header = cells[0]
    return [dict(zip(header, row)) for row in cells[2:]]


def _png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000, path


@pytest.fixture(scope="module")
def init_depth(tmp_path_factory) -> Path:
    return _sweep(tmp_path_factory, "init_depth", INIT_DEPTH)


@pytest.fixture(scope="module")
def residual_depth(tmp_path_factory) -> Path:
    return _sweep(tmp_path_factory, "residual_depth", RESIDUAL_DEPTH)


def _by_init(summaries: dict) -> dict:
    return {summary["config"]["init"]["name"]: summary for summary in summaries.values()}


@pytest.mark.slow
def test_init_depth_small_normal_init_stalls_while_kaiming_learns(init_depth):
    runs = _by_init(_summaries(init_depth))
    assert set(runs) == {"normal", "kaiming"}
    assert all(run["status"] == "completed" for run in runs.values())
    assert runs["normal"]["test"]["test/acc"] < CHANCE + 0.1  # stalled at chance
    assert runs["kaiming"]["test"]["test/acc"] > 0.6
    assert runs["normal"]["final"]["train/loss"] > math.log(10) - 0.1  # still the loss of a uniform guess


@pytest.mark.slow
def test_init_depth_report_is_written_at_the_end_of_the_sweep(init_depth):
    """The experiment's Hydra callback wrote the report; its activation column shows the
    signal vanishing under normal(0.01) (last layer's std orders of magnitude below the first)."""
    page = init_depth / "report" / "report.md"
    for name in ("curves.png", "layers.png"):
        _png(init_depth / "report" / name)
    rows = {row["init"]: row for row in _markdown_rows(page)}
    first, last = (float(text) for text in rows["normal"]["act_std first / last layer at start"].split(" / "))
    assert last < first * 1e-4
    first, last = (float(text) for text in rows["kaiming"]["act_std first / last layer at start"].split(" / "))
    assert last > first * 0.2


@pytest.mark.slow
def test_report_table_holds_the_runs_values(init_depth, tmp_path):
    out = tmp_path / "report"
    result = run_cli(["report", str(init_depth), f"out={out}"], cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert str(out / "report.md") in result.output
    summaries = _summaries(init_depth)
    rows = _markdown_rows(out / "report.md")
    assert len(rows) == len(summaries) == 2
    assert "model.activation" not in rows[0]  # fixed on the command line, not swept: no column
    for row in rows:
        summary = summaries[int(row["trial"])]
        assert row["init"] == summary["config"]["init"]["name"]
        assert row["status"] == summary["status"]
        assert float(row["test.test/acc"]) == pytest.approx(summary["test"]["test/acc"], rel=1e-3)
    page = (out / "report.md").read_text()
    # the command as printed: run from the sweep's working folder (cd DIR && dlrun -m ...)
    found = re.search(r"^- `cd (\S+) && (dlrun -m [^`]+)`", page, flags=re.M)
    assert found and found.group(1) == str(init_depth.parent), page
    command = found.group(2).split()
    assert "**Claim.**" in page and {"+experiment=init_depth", "init=normal,kaiming", "model.depth=6"} <= set(command)
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", page):
        _png(out / image)


def _mean_sd(text: str) -> tuple:
    mean, sd = text.split(" ± ")
    return float(mean), float(sd)


@pytest.mark.slow
def test_residual_depth_small_plain_net_trains_worse_than_residual(residual_depth):
    """Over 2 seeds, by the report's own rule: the plain net's mean training loss is above the
    residual net's by more than the sum of their sds."""
    summaries = _summaries(residual_depth)
    assert len(summaries) == 4 and all(run["status"] == "completed" for run in summaries.values())
    assert {run["config"]["model"]["depth"] for run in summaries.values()} == {4}
    rows = {row["model.residual"]: row for row in _markdown_rows(residual_depth / "report" / "report.md",
                                                                  "## Per configuration: mean ± sd over seeds")}
    (plain, plain_sd), (residual, residual_sd) = (_mean_sd(rows[key]["tail.train/loss"]) for key in ("false", "true"))
    assert plain - residual > plain_sd + residual_sd, rows


@pytest.mark.slow
def test_report_gives_each_configuration_the_mean_and_sd_of_its_seeds(residual_depth):
    """The per-configuration table's cells are the mean and sd (n - 1) of the trials' own summary.json values."""
    by_config: dict = {}
    for number, summary in _summaries(residual_depth).items():
        by_config.setdefault(summary["config"]["model"]["residual"], []).append((number, summary))
    rows = _markdown_rows(residual_depth / "report" / "report.md", "## Per configuration: mean ± sd over seeds")
    assert [row["model.residual"] for row in rows] == ["true", "false"]
    for row in rows:
        members = by_config[row["model.residual"] == "true"]
        assert row["n"] == "2" and row["status"] == "2 completed"
        assert sorted(map(int, row["trials"].split())) == sorted(number for number, _ in members)
        assert {summary["config"]["seed"] for _, summary in members} == {0, 1}
        accuracies = [summary["best"]["val/acc"] for _, summary in members]
        mean, sd = _mean_sd(row["best.val/acc"])
        assert mean == pytest.approx(statistics.fmean(accuracies), rel=1e-3)
        assert sd == pytest.approx(statistics.stdev(accuracies), rel=1e-3, abs=1e-6)


@pytest.mark.slow
def test_report_of_two_sweeps_names_each_sweeps_best(init_depth, residual_depth, tmp_path):
    out = tmp_path / "both"
    result = run_cli(["report", str(init_depth), str(residual_depth), f"out={out}"], cwd=tmp_path)
    assert result.returncode == 0, result.output
    _png(out / "best_so_far.png")
    rows = _markdown_rows(out / "report.md", "## Best per sweep")
    best = {row["sweep"]: float(row["best objective"]) for row in rows}
    for folder in (init_depth, residual_depth):
        values = [summary["objective"]["value"] for summary in _summaries(folder).values()]
        assert best[folder.name] == pytest.approx(min(values), rel=1e-3)  # val/loss: lower is better


def test_report_refuses_a_folder_that_is_no_sweep(tmp_path):
    result = run_cli(["report", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 2
    assert "dlrun report:" in result.stderr and "study.journal" in result.stderr and str(tmp_path) in result.stderr


def test_report_without_a_folder_prints_its_usage(tmp_path):
    result = run_cli(["report", "out=x"], cwd=tmp_path)
    assert result.returncode == 2 and "usage: dlrun report SWEEP_DIR" in result.stderr


def test_every_experiment_starts_with_its_package_and_a_claim_with_its_command():
    from dlrun.base.paths import config_dir

    experiments = sorted((config_dir() / "experiment").glob("*.yaml"))
    assert len(experiments) >= 5
    for path in experiments:
        first, second = path.read_text().splitlines()[:2]
        assert first == "# @package _global_", path
        assert second.startswith("# Claim:") and f"dlrun -m +experiment={path.stem}" in second, path


def test_every_study_runs_at_least_three_seeds():
    """Error bars in every study: its sweep has seed among its params with >= 3 values; random_vs_grid,
    whose replicate is a whole search, says how it is repeated over seeds instead."""
    from dlrun.base.paths import config_dir

    for path in sorted((config_dir() / "experiment").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        params = ((config.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
        if path.stem.startswith("random_vs_grid"):
            grid = config_dir() / "experiment" / "random_vs_grid_grid.yaml"
            assert "seed" not in params and "seed=S hydra.sweeper.seed=S" in grid.read_text(), path
        else:
            assert len(str(params.get("seed", "")).split(",")) >= 3, path


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_another_launcher_replaces_a_studys_population_launcher(launcher, tmp_path):
    result = run_cli(["validate", "-m", "+experiment=batchnorm_lr", f"launcher={launcher}"], cwd=tmp_path)
    assert result.returncode == 0, result.output[-2000:]


def test_the_gap_against_spread_rule():
    from dlrun.report.seed_table import separated, stats

    assert stats([1.0, 2.0, 3.0, None, float("nan")]) == (2.0, 1.0, 3)
    assert stats(["x", None]) == (None, None, 0)
    assert separated((1.0, 0.1, 3), (1.5, 0.3, 3)) and not separated((1.0, 0.2, 3), (1.5, 0.3, 3))
    assert not separated((1.0, None, 1), (5.0, 0.1, 3))  # one seed separates nothing


@pytest.mark.parametrize("block, named", [({"tabel": ["test.test/acc"]}, "study.tabel: unknown key"),
                                          ({"table": ["test/acc"]}, "study field 'test/acc'"),
                                          ({"x": "optim.lr", "versus": ["accuracy"]}, "study field 'accuracy'")])
def test_a_bad_study_block_is_named_with_what_is_allowed(block, named):
    from dlrun.report.settings import ReportError, study_settings

    with pytest.raises(ReportError) as error:
        study_settings(block, {"train/loss"})
    assert named in str(error.value) and ("keys of study" in str(error.value) or "SECTION" in str(error.value))


@pytest.mark.slow
def test_random_vs_grid_is_one_command_that_runs_both_halves_and_compares_them(tmp_path):
    folder = tmp_path / "rvg"
    result = run_cli(["-m", "+experiment=random_vs_grid", *QUIET, "trainer.max_epochs=1", "trainer.limit_train_batches=3",
                      "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", f"hydra.sweep.dir={folder}",
                      "seed=1", "hydra.sweeper.seed=1"],  # one repeat of the study: both halves get both seeds
                     cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.output[-3000:]
    grid, random = _summaries(folder), _summaries(tmp_path / "rvg_random")
    assert len(grid) == len(random) == 9
    grid_lrs = {summary["config"]["optim"]["lr"] for summary in grid.values()}
    random_lrs = {summary["config"]["optim"]["lr"] for summary in random.values()}
    assert len(grid_lrs) == 3 and len(random_lrs) == 9  # the claim's premise: 3 learning rates against 9
    assert {summary["config"]["seed"] for summary in [*grid.values(), *random.values()]} == {1}
    companion = yaml.safe_load((tmp_path / "rvg_random" / "multirun.yaml").read_text())
    assert companion["hydra"]["sweeper"]["seed"] == 1  # the sampler seed reached the random half
    rows = _markdown_rows(folder / "comparison" / "report.md")
    assert {row["sweep"] for row in rows} == {"rvg", "rvg_random"} and len(rows) == 18
