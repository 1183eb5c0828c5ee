"""Start-up costs a user feels: `dlrun --help`, `dlrun ls`, a config error, and the time
from typing `dlrun` to the end of the first training step.

Each command runs in a fresh process, several times; the median wall time is printed.

    python benchmarks/startup.py            # 5 repeats
    python benchmarks/startup.py --smoke    # 1 repeat
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

FIRST_STEP = ["trainer.max_steps=1", "trainer.limit_val_batches=0", "trainer.test_after_fit=false",
              "trainer.progress_bar=false", "logger=none", "callbacks=none"]
# name -> (arguments, the exit code that means it did what it should)
COMMANDS = {
    "dlrun --help": (["--help"], 0),
    "dlrun ls": (["ls"], 0),
    "config error (optim.lr=-1)": (["optim.lr=-1"], 2),
    "dlrun validate": (["validate"], 0),
    "start to first step (1-step run)": (FIRST_STEP, 0),
}


def wall_time(args, expected_code, cwd) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != expected_code:
        raise SystemExit(f"dlrun {' '.join(args)} exited {done.returncode}, expected {expected_code}:\n{done.stderr[-2000:]}")
    return elapsed


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    print(f"median of {repeats} fresh processes")
    with tempfile.TemporaryDirectory() as cwd:
        for name, (command, expected_code) in COMMANDS.items():
            times = [wall_time(command, expected_code, cwd) for _ in range(repeats)]
            print(f"{name:36s} {statistics.median(times):6.2f} s")
    for module in ("hydra", "torch", "lightning"):
        print(f"{'import ' + module:36s} {import_time(module):6.2f} s   (for reference)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
