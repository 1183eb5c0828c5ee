"""Seeds as members (issue 24): `data.seed` draws the split and batch order, `seed` the
initialisation, so `dlrun -m seed=0,1,2,3,4 data.seed=0 launcher=population` trains five
initialisations on one split as one population, through the real `dlrun`."""

from __future__ import annotations

import pytest

from conftest import TINY, read_json, run_cli

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.slow
def test_five_seeds_on_one_split_train_as_one_population(tmp_path):
    sweep_dir = tmp_path / "seeds"
    result = run_cli(["-m", "launcher=population", "seed=0,1,2,3,4", "data.seed=0", f"hydra.sweep.dir={sweep_dir}",
                      "hardware.threads=1", *TINY], cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.output[-3000:]
    assert "population of 5: trials 0, 1, 2, 3, 4" in result.output
    summaries = [read_json(sweep_dir / str(number) / "summary.json") for number in range(5)]
    assert [summary["status"] for summary in summaries] == ["completed"] * 5
    assert sorted(summary["config"]["seed"] for summary in summaries) == [0, 1, 2, 3, 4]
    assert {summary["config"]["data"]["seed"] for summary in summaries} == {0}
    assert len({summary["test"]["test/loss"] for summary in summaries}) == 5, "five initialisations, five results"
    assert [read_json(sweep_dir / str(number) / "record.json")["seeds"] for number in range(5)] == \
        [{"data.seed": 0, "seed": summary["config"]["seed"]} for summary in summaries]

    # the member with seed=3 is the single run `dlrun seed=3 data.seed=0`: its split (data.seed), its init (seed)
    member = next(summary for summary in summaries if summary["config"]["seed"] == 3)
    single = run_cli(["seed=3", "data.seed=0", f"hydra.run.dir={tmp_path / 'single'}", "hardware.threads=1", *TINY],
                     cwd=tmp_path, env=ONE_THREAD)
    assert single.returncode == 0, single.output[-3000:]
    alone = read_json(tmp_path / "single" / "summary.json")
    assert alone["test"] == member["test"] and alone["final"] == member["final"]


@pytest.mark.slow
def test_seeds_without_a_data_seed_split_the_population_as_before(tmp_path):
    """data.seed defaults to ${seed}: each seed is its own split, so its own population (today's results)."""
    sweep_dir = tmp_path / "seeds"
    result = run_cli(["-m", "launcher=population", "seed=0,1", f"hydra.sweep.dir={sweep_dir}", "hardware.threads=1",
                      *TINY], cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.output[-3000:]
    assert "2 populations, not one: their trials differ in data.seed" in result.output
    assert [read_json(sweep_dir / str(number) / "summary.json")["config"]["data"]["seed"] for number in (0, 1)] == [0, 1]
