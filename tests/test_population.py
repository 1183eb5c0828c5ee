"""Populations (dlrun.population): each member trains exactly as its trial would alone."""

from __future__ import annotations

import math

import pytest

from conftest import TINY
from dlrun.compose import compose, without_hydra
from dlrun.metrics_file import read_metric_rows

SMALL = [*TINY, "hardware.threads=1", "hardware.precision=64-true", "model.width=16"]


def _config(overrides):
    from dlrun.schema import validate

    cfg = without_hydra(compose([*SMALL, *overrides]))
    validate(cfg)
    return cfg


def _numbers(row: dict) -> dict:
    return {key: float(value) for key, value in row.items() if value not in ("", None)}


def _assert_same_rows(alone: list, member: list, where: str) -> None:
    assert len(alone) == len(member) and alone, f"{where}: {len(alone)} rows alone, {len(member)} in the population"
    for single, pooled in zip(alone, member):
        single, pooled = _numbers(single), _numbers(pooled)
        assert single.keys() == pooled.keys(), f"{where}: columns {sorted(single)} vs {sorted(pooled)}"
        for key in single:
            assert math.isclose(single[key], pooled[key], rel_tol=1e-9, abs_tol=1e-12), \
                f"{where} step {single.get('step')}: {key} alone {single[key]!r}, in the population {pooled[key]!r}"


MEMBERS = {
    "sgd": [["optim=sgd", "optim.lr=0.05"], ["optim=sgd", "optim.lr=0.2", "optim.weight_decay=0.01"]],
    "momentum": [["optim=momentum", "optim.lr=0.01", "optim.momentum=0.5"],
                 ["optim=momentum", "optim.lr=0.05", "optim.weight_decay=0.001"]],
    "adam": [["optim=adam", "optim.lr=0.001"], ["optim=adam", "optim.lr=0.01", "optim.weight_decay=0.01",
                                                "optim.betas=[0.8,0.99]", "loss.label_smoothing=0.1",
                                                "schedule=cosine"]],
}


@pytest.mark.parametrize("optimizer", sorted(MEMBERS))
def test_each_member_matches_its_trial_run_alone(optimizer, tmp_path):
    from dlrun.population.run import train_population
    from dlrun.runner import execute

    configs = [_config(overrides) for overrides in MEMBERS[optimizer]]
    for index, cfg in enumerate(configs):
        execute(cfg, tmp_path / f"alone{index}")
    folders = [tmp_path / f"member{index}" for index in range(len(configs))]
    summaries = train_population(configs, folders, tmp_path / "population")
    assert [summary["status"] for summary in summaries] == ["completed"] * len(configs)
    for index, folder in enumerate(folders):
        _assert_same_rows(read_metric_rows(tmp_path / f"alone{index}" / "metrics.csv"),
                          read_metric_rows(folder / "metrics.csv"), f"{optimizer} member {index}")
