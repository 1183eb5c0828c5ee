"""torch intra-op threads per run (hardware.threads): one thread, torch's default (one per
core) and a rule (one thread below 1M parameters, else the cores idle right now), each alone
and with one other core kept busy by a `while True: pass` process this script starts and stops.

Every run is a whole `dlrun` command in a fresh process; the time printed is the training
time from its summary.json (wall_time_s), the median of the repeats, which run interleaved
so that the machine's other work falls on every setting alike.

    python benchmarks/threads.py            # 3 workloads x 3 settings x 2 loads, 2 repeats
    python benchmarks/threads.py --smoke    # one tiny run per setting: checks that it runs (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUIET = ["trainer.progress_bar=false", "logger=none", "trainer.test_after_fit=false"]
# name -> (overrides, parameters): the default experiment, a small recurrent net on long
# sequences, and an MLP big enough for the rule to give it every idle core
WORKLOADS = {
    "mlp (default, 20 epochs)": ([], 85_000),
    "lstm parity (4 epochs)": (["model=lstm", "data=parity", "trainer.max_epochs=4"], 67_000),
    "mlp 1024x4 (5 epochs)": (["model.width=1024", "model.depth=4", "trainer.max_epochs=5"], 3_228_000),
}
SMOKE = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1"]
RULE_MIN_PARAMETERS = 1_000_000


def idle_cores(seconds: float = 0.5) -> float:
    """Cores idle over the next `seconds`, from the kernel's CPU time counters."""
    def sample():
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # (idle + iowait, total), in ticks

    idle_before, total_before = sample()
    time.sleep(seconds)
    idle_after, total_after = sample()
    return os.cpu_count() * (idle_after - idle_before) / max(1, total_after - total_before)


def rule_threads(parameters: int) -> int:
    if parameters < RULE_MIN_PARAMETERS:
        return 1
    return max(1, int(idle_cores() + 0.5))


def train_seconds(overrides: list, threads: int, folder: Path) -> float:
    command = [sys.executable, "-m", "dlrun", *QUIET, *overrides, f"hardware.threads={threads}",
               f"hydra.run.dir={folder}"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "disabled"})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return json.loads((folder / "summary.json").read_text())["wall_time_s"]


def measure(overrides: list, parameters: int, repeats: int, tmp: Path) -> tuple:
    """(setting -> [seconds], [threads the rule picked]), the settings interleaved repeat by repeat."""
    settings = {"1 thread": lambda: 1, f"torch default ({os.cpu_count()})": os.cpu_count,
                "rule": lambda: rule_threads(parameters)}
    seconds, picked = {name: [] for name in settings}, []
    for repeat in range(repeats):
        for name, threads in settings.items():
            folder = tmp / f"{len(list(tmp.iterdir()))}"
            count = threads()
            picked += [count] if name == "rule" else []
            seconds[name].append(train_seconds(overrides, count, folder))
    return seconds, picked


def busy_core():
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="one tiny run per setting, no load")
    args = parser.parse_args(argv)
    workloads = {"smoke": (SMOKE, 85_000)} if args.smoke else WORKLOADS
    loads = ["alone"] if args.smoke else ["alone", "one core busy"]
    print(f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f} at start (other work on the machine); "
          f"training seconds, median of {1 if args.smoke else args.repeats}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for load in loads:
            for name, (overrides, parameters) in workloads.items():
                burner = busy_core() if load != "alone" else None
                try:
                    seconds, picked = measure(overrides, parameters, 1 if args.smoke else args.repeats, Path(tmp))
                finally:
                    if burner is not None:
                        burner.kill()
                        burner.wait()
                cells = "   ".join(f"{setting} {statistics.median(values):6.1f} s" for setting, values in seconds.items())
                print(f"{load:14s} {name:26s} {cells} (picked {','.join(map(str, picked))})   "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
