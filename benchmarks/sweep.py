"""Sweep throughput: the same N-trial `dlrun -m` sweep one trial after another
(launcher=basic) and two at a time in two processes (launcher=joblib, 2 workers); then
worker utilisation on trials of unequal length (one long trial, several short ones, two
slots): busy time / (slots x wall), where a trial is busy from its run.log's first line to
its summary.json's last write and the wall runs from the first trial's start to the last
one's end. Each slot starts its next trial as soon as it is free, so the short trials fill
one slot while the long one runs in the other. The same trials' durations also give what a
batch barrier (ask n_jobs, wait for all) would have made of them.

Every process runs torch on one thread (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1), so on a
2-core machine the parallel sweep can use both cores and the sequential one uses one: the
ratio is what adding a worker buys. Times are whole commands, start-up included (a joblib
worker imports torch and Lightning once, then runs trial after trial). The last line
measures how much parallel CPU the machine gives right now (pure torch work in one and
in two processes): on a machine shared with other jobs the sweep speedup is bounded by it.

The per-trial overhead case (`--trial-overhead-only`) runs an in-process sweep (launcher=basic)
of short default trials and measures, from the trial folders, what each trial costs beyond
its own run: the gap from one trial's summary.json (its run's end) to the next trial's first
run.log line (its run's start): the study's tell and ask, composing and checking the trial's
config, Hydra's job set-up, the sweep's summary.csv. `--before DIR` runs the same sweep with
another checkout (PYTHONPATH=DIR) in alternation, for a before/after measured side by side.

The population case (`--population-only`) times a 16-trial log-space lr sweep of the default
MLP (the default config: 20 epochs, checkpoints, test, plots) one trial after another
(launcher=basic) and as populations (launcher=population, size 16), same sampler seed, so
trial N has the same lr in both; each trial's val/loss is compared with its sequential twin.
Beside them, the compute floor: members x steps x the bare step time (BARE_STEP), what the
training alone costs on one core however the members are batched.

    python benchmarks/sweep.py            # 8 trials of about 8 s each (1600 steps), then 1 long + 4 short, then populations
    python benchmarks/sweep.py --trial-overhead-only --before /tmp/old-dlrun
    python benchmarks/sweep.py --smoke    # 2 tiny trials (and 1 + 2 uneven, and a population of 2): checks that it runs (CI)
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

# One trial: the MLP on the embedded digits for a few epochs, nothing but the training loop.
TRIAL = ["model.width=512", "model.depth=3", "trainer.progress_bar=false", "trainer.test_after_fit=false",
         "logger=none", "callbacks.checkpoint.save_best=false", "callbacks.checkpoint.save_last=false"]
SMOKE = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1"]
LAUNCHERS = {"sequential (launcher=basic)": ["launcher=basic"],
             "parallel (launcher=joblib, 2 workers)": ["launcher=joblib", "hydra.launcher.n_jobs=2"]}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


# Pure torch work on one thread: how much two processes get done at once on this machine
# right now (2.0 on two idle cores; less when other programs use them).
BURN = ("import time, torch; torch.set_num_threads(1); x, w = torch.randn(64, 512), torch.randn(512, 512); "
        "t = time.perf_counter(); [x @ w for _ in range(4000)]; print(time.perf_counter() - t)")


def machine_parallelism() -> float:
    """Work done by two concurrent one-thread processes, relative to one alone."""
    def start():
        return subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True, env=os.environ)

    alone = float(start().communicate()[0])
    pair = [start(), start()]
    return 2 * alone / max(float(process.communicate()[0]) for process in pair)


def learning_rates(count: int) -> str:
    return ",".join(f"{1e-3 * (1 + index / count):.6g}" for index in range(count))


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes, their own children included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sweep(launcher: list, trials: int, work: list, folder: Path, search=None, code=None) -> tuple:
    """(wall seconds, CPU seconds) of the whole `dlrun -m` command; checks that every trial completed.
    `code`: another checkout's root to run instead of this one's."""
    search = search if isinstance(search, list) else [search or f"optim.lr={learning_rates(trials)}"]
    command = [sys.executable, "-m", "dlrun", "-m", *work, *launcher, *search, f"hydra.sweep.dir={folder}"]
    started, cpu = time.perf_counter(), children_cpu()
    env = {**os.environ, **ONE_THREAD, **({"PYTHONPATH": str(code)} if code else {})}
    done = subprocess.run(command, cwd=folder.parent, capture_output=True, text=True, env=env)
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    with open(folder / "summary.csv") as handle:
        statuses = [row["status"] for row in csv.DictReader(handle)]
    if statuses != ["completed"] * trials:
        raise SystemExit(f"{folder}: expected {trials} completed trials, got {statuses}")
    return seconds, cpu


def trial_interval(run_dir: Path) -> tuple:
    """(start, end) of one trial: its run.log's first line, its summary.json's last write."""
    line = (run_dir / "run.log").read_text().splitlines()[0]
    stamp = re.match(r"\[([\d-]+ [\d:,]+)\]", line).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp(), (run_dir / "summary.json").stat().st_mtime


def utilisation(folder: Path, trials: int, slots: int) -> tuple:
    """(measured, what a batch barrier makes of the same durations): busy / (slots x wall)."""
    spans = [trial_interval(folder / str(number)) for number in range(trials)]
    busy = sum(end - start for start, end in spans)
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    durations = [end - start for start, end in spans]
    barrier_wall = sum(max(durations[i:i + slots]) for i in range(0, trials, slots))
    return busy / (slots * wall), busy / (slots * barrier_wall), wall


def uneven_case(work: list, short_epochs: int, shorts: int, folder: Path) -> None:
    """One long trial (as long as the short ones together, so two slots can both stay busy), then `shorts`."""
    lengths = [short_epochs + index for index in range(shorts)]  # distinct: a comma list runs each value once
    epochs = ",".join(str(e) for e in [sum(lengths)] + lengths)
    trials = shorts + 1
    seconds, _ = run_sweep(LAUNCHERS["parallel (launcher=joblib, 2 workers)"], trials,
                           [o for o in work if not o.startswith("trainer.max_epochs=")], folder,
                           search=f"trainer.max_epochs={epochs}")
    measured, barrier, wall = utilisation(folder, trials, 2)
    print(f"uneven trials (max_epochs={epochs}, launcher=joblib, 2 slots): {seconds:.1f} s in all, trials "
          f"{wall:.1f} s from first start to last end", flush=True)
    print(f"worker utilisation: {measured:.2f} (busy / (slots x wall); target >= 0.9); a batch barrier would make "
          f"{barrier:.2f} of the same trials")


def throughput_case(work: list, trials: int) -> None:
    print(f"sweep benchmark: {trials} trials of `dlrun {' '.join(work)}`, torch on 1 thread per process, "
          f"{os.cpu_count()} CPU cores", flush=True)
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, launcher in LAUNCHERS.items():
            seconds[name], cpu = run_sweep(launcher, trials, work, Path(tmp) / name.split()[0])
            print(f"  {name:40s} {seconds[name]:7.1f} s   {60 * trials / seconds[name]:6.1f} trials/min   "
                  f"({cpu:.1f} CPU s)", flush=True)
    sequential, parallel = seconds.values()
    print(f"speedup: {sequential / parallel:.2f}x (target >= 1.6x on 2 idle cores)")


def trial_gaps(folder: Path, trials: int) -> tuple:
    """([seconds from each trial's end to the next one's start], [each trial's run seconds])."""
    spans = [trial_interval(folder / str(number)) for number in range(trials)]
    return [start - end for (_, end), (start, _) in zip(spans, spans[1:])], [end - start for start, end in spans]


def trial_overhead_case(trials: int, rounds: int, smoke: bool, before) -> None:
    """Per-trial cost beyond the run, this checkout and (with `before`) another, alternating."""
    work = ["trainer.progress_bar=false", "hardware.threads=1"] + (SMOKE if smoke else ["trainer.max_epochs=2"])
    codes = {"this checkout": None, **({"--before": before} if before else {})}
    gaps, runs, walls = ({name: [] for name in codes} for _ in range(3))
    print(f"per-trial overhead: in-process sweeps (launcher=basic) of {trials} trials of `dlrun {' '.join(work)}`, "
          f"{rounds} round(s), sides alternating", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            for name, code in (list(codes.items()) if index % 2 == 0 else list(codes.items())[::-1]):
                folder = Path(tmp) / f"{index}_{'before' if code else 'now'}"
                walls[name].append(run_sweep(["launcher=basic"], trials, work, folder, code=code)[0])
                between, spans = trial_gaps(folder, trials)
                gaps[name] += between
                runs[name] += spans
    for name in codes:
        print(f"  {name:14s} beyond the run {statistics.median(gaps[name]):5.2f} s a trial (median of "
              f"{len(gaps[name])} gaps)   the run itself {statistics.median(runs[name]):5.2f} s   "
              f"sweep wall {statistics.median(walls[name]):6.1f} s (load average {os.getloadavg()[0]:.1f})", flush=True)
    if before:
        now, then = statistics.median(gaps["this checkout"]), statistics.median(gaps["--before"])
        print(f"per-trial overhead beyond the run: {then:.2f} -> {now:.2f} s ({now / then:.2f}x; target <= 0.5x)")


# The compute floor of one training step: forward, loss, backward and the optimizer's update of
# the default MLP on one batch of the digits, in a bare loop on one thread (no Lightning, no
# logging): what a member's step costs whichever way the members are batched on this CPU.
BARE_STEP = """
import sys, time, torch
from dlrun.config.compose import compose
from dlrun.config.validate import validated
from dlrun.recipe.optim import build_optimizer
from dlrun.training.runner import build_components
torch.set_num_threads(1)
datamodule, task = build_components(validated(compose(sys.argv[1:])))
datamodule.setup("fit")
inputs, targets = next(iter(datamodule.train_dataloader()))
model, optimizer = task.model, build_optimizer(task.cfg_optim, task.model)
def step():
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(inputs), targets).backward()
    optimizer.step()
for _ in range(50):
    step()
times = []
for _ in range(5):
    started = time.perf_counter()
    for _ in range(200):
        step()
    times.append((time.perf_counter() - started) / 200)
print(sorted(times)[len(times) // 2])
"""


def bare_step_seconds(overrides: list) -> float:
    """The median time of a bare training step of the benchmark's model (BARE_STEP), one thread."""
    done = subprocess.run([sys.executable, "-c", BARE_STEP, *overrides], capture_output=True, text=True,
                          env={**os.environ, **ONE_THREAD}, check=True)
    return float(done.stdout.split()[-1])


def trained_steps(folder: Path) -> int:
    """The optimizer steps of one trial (trial 0's summary.json)."""
    import json

    return int(json.loads((folder / "0" / "summary.json").read_text())["global_step"])


def trial_results(folder: Path) -> dict:
    """{trial number: (lr, val/loss)} from the sweep's summary.csv."""
    with open(folder / "summary.csv") as handle:
        return {int(row["trial"]): (float(row["optim.lr"]), float(row["val/loss"])) for row in csv.DictReader(handle)}


def population_case(trials: int, smoke: bool, extra=()) -> None:
    """The same seeded log-space lr sweep of the default MLP (with `extra` overrides), one trial
    after another and as populations."""
    work = ["trainer.progress_bar=false", "hardware.threads=1", *extra] + (SMOKE if smoke else [])
    search = ["optim.lr=tag(log, interval(1e-4, 1e-1))", f"hydra.sweeper.n_trials={trials}", "hydra.sweeper.seed=0"]
    cases = {"sequential (launcher=basic)": ["launcher=basic"],
             f"population (launcher=population, size {trials})": ["launcher=population", f"hydra.launcher.size={trials}"]}
    print(f"population benchmark: {trials}-trial log-space lr sweep of `dlrun {' '.join(work)}` (the default MLP on "
          f"digits), torch on 1 thread, {os.cpu_count()} CPU cores", flush=True)
    seconds, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, launcher) in enumerate(cases.items()):
            folder = Path(tmp) / f"case{index}"
            seconds[name], cpu = run_sweep(launcher, trials, work, folder, search=search)
            results[name] = trial_results(folder)
            print(f"  {name:45s} {seconds[name]:7.1f} s   {60 * trials / seconds[name]:6.1f} trials/min   "
                  f"({cpu:.1f} CPU s)", flush=True)
        steps = trained_steps(folder)
    step = bare_step_seconds([*work])
    floor = trials * steps * step
    print(f"  {'compute floor (members x steps x bare step)':45s} {floor:7.1f} s   = {trials} x {steps} x "
          f"{1e3 * step:.2f} ms (a bare fwd+bwd+update on one thread, median of 5 x 200)")
    (sequential, population), (alone, pooled) = seconds.values(), results.values()
    assert {n: lr for n, (lr, _) in alone.items()} == {n: lr for n, (lr, _) in pooled.items()}, "same lr per trial"
    gaps = {n: abs(pooled[n][1] - alone[n][1]) / abs(alone[n][1]) for n in alone}
    worst = max(gaps, key=gaps.get)
    print(f"speedup: {sequential / population:.2f}x (target >= 2.0x on this CPU); population / compute floor "
          f"{population / floor:.2f}x, sequential / floor {sequential / floor:.2f}x; val/loss vs the sequential "
          f"twin: largest relative gap {gaps[worst]:.2e} (trial {worst}, lr {alone[worst][0]:.3g}), "
          f"{sum(gap == 0 for gap in gaps.values())}/{len(gaps)} equal, "
          f"{sum(gap <= 0.05 for gap in gaps.values())}/{len(gaps)} within 5%")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=80, help="epochs per trial (the digits: 20 steps each)")
    parser.add_argument("--smoke", action="store_true", help="2 tiny trials: checks that the benchmark runs")
    parser.add_argument("--uneven-only", action="store_true", help="only the utilisation case of uneven trials")
    parser.add_argument("--population-only", action="store_true", help="only the population case")
    parser.add_argument("--trial-overhead-only", action="store_true", help="only the per-trial overhead case")
    parser.add_argument("--before", type=Path, help="another checkout's root, for the per-trial overhead case")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the per-trial overhead case")
    parser.add_argument("--population-overrides", nargs="*", default=[],
                        help="overrides for the population case's trials, e.g. model.width=32")
    args = parser.parse_args(argv)
    trials = 2 if args.smoke else args.trials
    work = TRIAL + (SMOKE if args.smoke else [f"trainer.max_epochs={args.epochs}"])
    if args.trial_overhead_only:
        trial_overhead_case(3 if args.smoke else 6, 1 if args.smoke else args.rounds, args.smoke, args.before)
        return 0
    if not (args.uneven_only or args.population_only):
        throughput_case(work, trials)
    if not args.population_only:
        with tempfile.TemporaryDirectory() as tmp:
            uneven_case(work, *((1, 2) if args.smoke else (args.epochs // 2, 4)), Path(tmp) / "uneven")
    if not args.uneven_only:
        population_case(2 if args.smoke else 16, args.smoke, args.population_overrides)
    print(f"machine check: two 1-thread torch processes did {machine_parallelism():.2f}x the work of one "
          f"(2.00 on 2 idle cores; load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
