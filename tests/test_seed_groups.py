"""Error bars over seeds (issue 24): the sweep summary (console and summary.csv) and `dlrun
report` group the trials that differ only in `seed` and show mean ± sd and n of the objective
and test metrics, the numbers recomputed here from the trials' summary.json."""

from __future__ import annotations

import csv
import statistics

import pytest

from conftest import TINY, read_json, run_cli

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def expected_groups(sweep_dir) -> dict:
    """{lr: {metric: (mean, sd, n)}} from the trials' own summary.json."""
    values: dict = {}
    for summary_file in sweep_dir.glob("[0-9]*/summary.json"):
        summary = read_json(summary_file)
        metrics = {"val/loss": summary["objective"]["value"], **summary["test"]}
        for name, value in metrics.items():
            values.setdefault(summary["config"]["optim"]["lr"], {}).setdefault(name, []).append(value)
    return {lr: {name: (statistics.fmean(listed), statistics.stdev(listed), len(listed)) for name, listed in by.items()}
            for lr, by in values.items()}


@pytest.mark.slow
def test_the_summary_and_report_show_mean_sd_and_n_over_seeds(tmp_path):
    sweep_dir = tmp_path / "seeds"
    result = run_cli(["-m", "launcher=population", "seed=0,1,2", "data.seed=0", "optim.lr=0.01,0.03",
                      f"hydra.sweep.dir={sweep_dir}", "hardware.threads=1", *TINY], cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.output[-3000:]
    expected = expected_groups(sweep_dir)
    assert sorted(expected) == [0.01, 0.03] and {stats["val/loss"][2] for stats in expected.values()} == {3}

    with open(sweep_dir / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    for row in rows:
        stats = expected[float(row["optim.lr"])]
        assert row["seed_group"] == f"optim.lr={float(row['optim.lr']):.4g}" and int(row["seed_n"]) == 3
        for name, (mean, sd, _) in stats.items():
            assert float(row[f"{name} mean"]) == pytest.approx(mean, rel=1e-12)
            assert float(row[f"{name} sd"]) == pytest.approx(sd, rel=1e-12)

    report = run_cli(["report", str(sweep_dir)], cwd=tmp_path)
    assert report.returncode == 0, report.output[-3000:]
    for lr, stats in expected.items():
        mean, sd, n = stats["val/loss"]
        line = f"seed groups: optim.lr={lr:.4g}: val/loss {mean:.4g} ± {sd:.4g} (n={n})"
        test_part = ", ".join(f"{name} {stats[name][0]:.4g} ± {stats[name][1]:.4g}" for name in sorted(stats)
                              if name.startswith("test/"))
        assert f"{line}, {test_part}" in result.output, "the sweep's summary line"
        assert f"{line}, {test_part}" in report.output
        assert f"- {line}, {test_part}" in (sweep_dir / "report" / "report.md").read_text()
