"""Start-up and whole-run costs a user feels.

1. The default experiment end to end: `dlrun` with no overrides (MLP on digits, 20 epochs,
   validation each epoch, checkpoints, test, plots), process start to exit, against
   benchmarks/hand_script.py (the same job in plain PyTorch). Paired and interleaved: each
   round runs every side once, in an order that rotates from round to round, and the ratio
   is taken within the round (a machine shared with other jobs slows both sides of a round
   alike); the median of the rounds' ratios is printed. `--before DIR` adds a third side: the
   same `dlrun` from another checkout (PYTHONPATH=DIR), e.g. an older commit for a
   before/after table measured in one run.
2. `dlrun --help`, `dlrun ls`, a config error, `dlrun validate`, the time from typing
   `dlrun` to the end of the first training step; fresh processes, median.

    python benchmarks/startup.py                          # 7 rounds, then the commands (5 repeats)
    python benchmarks/startup.py --before /tmp/old-dlrun  # the same with a third side
    python benchmarks/startup.py --whole-only --rounds 11
    python benchmarks/startup.py --smoke                  # 1 round, 1 repeat (CI)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweep import children_cpu  # benchmarks/sweep.py: this folder is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
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


def environment(code: Path | None) -> dict:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def timed(command: list, cwd, env, expected_code: int = 0) -> tuple:
    """(wall seconds, CPU seconds) of one command: on a machine shared with other jobs the
    CPU seconds (user + system, the process's own work) vary less than the wall time."""
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode != expected_code:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, expected {expected_code}:\n"
                         f"{done.stderr[-2000:]}")
    return elapsed, cpu


def wall_time(args, expected_code, cwd) -> float:
    return timed([sys.executable, "-m", "dlrun", *args], cwd, environment(REPO), expected_code)[0]


def import_time(statement: str) -> tuple:
    """(wall, CPU) seconds of an import statement in a fresh process."""
    code = (f"import time; t, c = time.perf_counter(), time.process_time(); {statement}; "
            f"print(time.perf_counter() - t, time.process_time() - c)")
    wall, cpu = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    return float(wall), float(cpu)


# What the hand-written script imports, and that plus Lightning: dlrun's floor for the whole
# run is the hand script plus the difference (every run keeps Lightning's Trainer).
FLOOR_IMPORTS = {"import torch, sklearn.datasets (the hand script's)": "import torch, sklearn.datasets",
                 "  + import lightning": "import torch, sklearn.datasets, lightning"}


def whole_run_sides(before: Path | None) -> dict:
    """name -> a function of a scratch folder that runs that side once and returns its seconds."""
    sides = {
        "hand-written script": lambda cwd: timed([sys.executable, str(HERE / "hand_script.py"), str(cwd)], cwd,
                                                 environment(None)),
        "dlrun (this checkout)": lambda cwd: timed([sys.executable, "-m", "dlrun"], cwd, environment(REPO)),
    }
    if before is not None:
        sides["dlrun (--before)"] = lambda cwd: timed([sys.executable, "-m", "dlrun"], cwd, environment(before))
    return sides


def paired_whole_runs(rounds: int, before: Path | None) -> dict:
    """(wall, CPU) seconds per side per round, the sides' order rotating each round."""
    sides = whole_run_sides(before)
    names = list(sides)
    seconds = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            with tempfile.TemporaryDirectory() as cwd:
                seconds[name].append(sides[name](Path(cwd)))
        print(f"  round {index + 1}/{rounds}: " + "   ".join(f"{name} {seconds[name][-1][0]:.2f} s" for name in names)
              + f"   (load average {os.getloadavg()[0]:.1f})", flush=True)
    return seconds


def report_whole_runs(seconds: dict) -> None:
    hand = seconds["hand-written script"]
    print(f"default experiment, process start to exit; median of {len(hand)} paired rounds "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")
    for name, times in seconds.items():
        line = (f"{name:26s} wall {statistics.median(w for w, _ in times):6.2f} s   "
                f"CPU {statistics.median(c for _, c in times):6.2f} s")
        if name != "hand-written script":
            wall = [ours[0] / base[0] for ours, base in zip(times, hand)]
            cpu = [ours[1] / base[1] for ours, base in zip(times, hand)]
            line += (f"   ratio wall {statistics.median(wall):.2f}x CPU {statistics.median(cpu):.2f}x "
                     f"(wall per round: {' '.join(f'{r:.2f}' for r in wall)})")
        print(line, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per command")
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds of the whole-run comparison")
    parser.add_argument("--before", type=Path, help="another checkout's root, timed as a third side")
    parser.add_argument("--whole-only", action="store_true", help="only the whole-run comparison")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    rounds, repeats = (1, 1) if args.smoke else (args.rounds, args.repeats)
    report_whole_runs(paired_whole_runs(rounds, args.before))
    if args.whole_only:
        return 0
    print(f"median of {repeats} fresh processes")
    with tempfile.TemporaryDirectory() as cwd:
        for name, (command, expected_code) in COMMANDS.items():
            times = [wall_time(command, expected_code, cwd) for _ in range(repeats)]
            print(f"{name:36s} {statistics.median(times):6.2f} s")
    for module in ("hydra", "torch", "lightning"):
        print(f"{'import ' + module:36s} {import_time('import ' + module)[0]:6.2f} s   (for reference)")
    print(f"imports, CPU seconds, median of {repeats} fresh processes")
    for name, statement in FLOOR_IMPORTS.items():
        times = [import_time(statement) for _ in range(repeats)]
        print(f"{name:52s} wall {statistics.median(w for w, _ in times):6.2f} s   "
              f"CPU {statistics.median(c for _, c in times):6.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
