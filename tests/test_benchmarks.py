"""CI smoke of every benchmark script: each runs in a tiny size and prints its numbers
(the numbers themselves are for benchmarks/RESULTS.md, not asserted as times here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO


def run_benchmark(script: str, *args) -> str:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--smoke", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_overhead_prints_a_ratio_for_every_case():
    out = run_benchmark("overhead.py")
    ratios = re.findall(r"^(\w): .* hand-written\s+([\d.]+) steps/s\s+bare Lightning\s+([\d.]+) steps/s\s+"
                        r"dlrun\s+([\d.]+) steps/s\s+ratio ([\d.]+)\s+vs bare ([\d.]+)$", out, re.M)
    assert [case for case, *_ in ratios] == ["a", "b", "c"], out
    exact = [json.loads(line) for line in re.findall(r"^  exact (\{.*\})$", out, re.M)]
    assert len(exact) == 3, out
    for case in exact:  # the unrounded numbers: the ratios are the quotients whatever the speeds
        assert case["repeats"] == 1 and all(len(case[side]) == 1 and case[side][0] > 0
                                            for side in ("hand", "bare", "dlrun")), case
        assert case["ratio"] == pytest.approx(case["dlrun"][0] / case["hand"][0], rel=1e-12)
        assert case["vs_bare"] == pytest.approx(case["dlrun"][0] / case["bare"][0], rel=1e-12)
    for (_, hand, bare, ours, ratio, to_bare), case in zip(ratios, exact):  # the printed line rounds the same numbers
        assert float(ratio) == round(case["ratio"], 3) and float(to_bare) == round(case["vs_bare"], 3)
        assert float(ours) == round(case["dlrun"][0], 1) and float(hand) == round(case["hand"][0], 1)


@pytest.mark.slow
def test_startup_times_every_command():
    out = run_benchmark("startup.py")
    whole = re.search(r"^dlrun \(this checkout\)\s+wall\s+([\d.]+) s\s+CPU\s+([\d.]+) s\s+"
                      r"ratio wall ([\d.]+)x CPU ([\d.]+)x", out, re.M)
    assert whole and all(float(number) > 0 for number in whole.groups()), out
    names = re.findall(r"^(.+?)\s{2,}([\d.]+) s$", out, re.M)
    assert len(names) >= 5 and all(float(seconds) > 0 for _, seconds in names), out


@pytest.mark.slow
def test_sweep_benchmark_measures_the_per_trial_overhead():
    out = run_benchmark("sweep.py", "--trial-overhead-only")
    gap = re.search(r"this checkout\s+beyond the run\s+([\d.]+) s a trial .* the run itself\s+([\d.]+) s", out)
    assert gap and float(gap.group(2)) > 0, out


@pytest.mark.slow
def test_gpu_check_runs_every_part_in_its_cpu_smoke_mode(tmp_path):
    out = run_benchmark("gpu.py", "--out", str(tmp_path / "gpu.json"))
    assert "for benchmarks/RESULTS.md:" in out and "FAILED" not in out, out
    results = json.loads((tmp_path / "gpu.json").read_text())
    assert results["mode"] == "smoke"
    measured = [row for row in results["transformer"]["rows"] if "skipped" not in row]
    assert [row["setting"] for row in measured] == ["fp32", "bf16-mixed"], results
    for row in measured:
        assert row["hand_tokens_per_s"] > 0 and row["dlrun_tokens_per_s"] > 0 and row["flops_per_token"] > 0
        assert abs(row["ratio"] - row["dlrun_tokens_per_s"] / row["hand_tokens_per_s"]) < 1e-6
    population = results["population"]
    assert population["completed"] == population["size"] == 2 and population["twins_compared"] == 1, population
    (ddp,) = results["ddp"]["rows"]
    assert [run["global_step"] for run in ddp["runs"].values()] == [2], ddp


@pytest.mark.slow
def test_sweep_benchmark_prints_a_speedup():
    out = run_benchmark("sweep.py")
    assert re.search(r"^speedup: [\d.]+x", out, re.M), out


@pytest.mark.slow
def test_threads_benchmark_times_every_setting():
    out = run_benchmark("threads.py")
    cells = re.findall(r"(1 thread|torch default \(\d+\)|rule)\s+([\d.]+) s", out)
    assert [name for name, _ in cells][:1] == ["1 thread"] and len(cells) == 3, out
    assert all(float(seconds) > 0 for _, seconds in cells) and "(picked 1)" in out, out


@pytest.mark.slow
def test_profile_run_times_every_phase_of_one_run():
    """Each phase it wraps still exists where the table says (a moved function fails here)."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "profile_run.py"), "trainer.max_epochs=1"],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    calls = dict(re.findall(r"^ *(\S.*?)\s{2,}[\d.]+\s+(\d+)$", done.stderr, re.M))
    assert calls.get("command-line check (compose + validate)") == "1", done.stderr
    assert calls.get("run (execute)") == "1" and calls.get("fit") == "1" and calls.get("test") == "1", done.stderr
    assert "exit 0" in done.stderr.splitlines()[-1]


@pytest.mark.slow
def test_samplers_benchmark_prints_regret_and_coverage_for_every_sampler():
    out = run_benchmark("samplers.py")
    rows = re.findall(r"^\s+(\d+) trials\s+(.*)$", out, re.M)
    assert [budget for budget, _ in rows] == ["4", "8", "4", "8"], out
    for _, cells in rows:
        found = re.findall(r"(\w+) ([\d.]+) / ([\d.]+) / (\d+)%", cells)
        assert [name for name, *_ in found] == ["sobol", "random", "qmc", "tpe"], cells
        sobol_coverage = int(found[0][3])
        assert sobol_coverage == 100  # n Sobol points in n equal slices, whatever the seed
