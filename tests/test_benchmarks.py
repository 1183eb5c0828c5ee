"""CI smoke of every benchmark script: each runs in a tiny size and prints its numbers
(the numbers themselves are for benchmarks/RESULTS.md, not asserted as times here)."""

from __future__ import annotations

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
    for _, hand, bare, ours, ratio, to_bare in ratios:  # one repeat (--smoke): the medians are the ratios
        assert float(hand) > 0 and float(bare) > 0 and float(ours) > 0
        assert abs(float(ratio) - float(ours) / float(hand)) < 0.01
        assert abs(float(to_bare) - float(ours) / float(bare)) < 0.01


@pytest.mark.slow
def test_startup_times_every_command():
    out = run_benchmark("startup.py")
    names = re.findall(r"^(.+?)\s+([\d.]+) s", out, re.M)
    assert len(names) >= 5 and all(float(seconds) > 0 for _, seconds in names), out


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
