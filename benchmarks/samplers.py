"""How well each sweep sampler covers its ranges, and the best value it finds, at small budgets.

Synthetic part (seconds): the objectives a learning-rate sweep meets, with the optimum placed
at random in the range, once per repeat; every sampler gets the same optima and its own seed
per repeat. Printed per sampler and budget: the mean and 90th percentile of the regret (the
best value found minus the true optimum, 0 is perfect) and the share of `budget` equal
slices of the log-lr range that hold a point.

Real part (--real, minutes): `dlrun -m` sweeps of the default experiment's SGD learning rate,
each sampler with the same seeds, and the best val/loss each found.

    python benchmarks/samplers.py            # synthetic, 400 repeats
    python benchmarks/samplers.py --real     # and the real sweeps (3 seeds x 8 trials each)
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import optuna

from dlrun.sweeps.samplers import build_sampler
from dlrun.sweeps.space import parse_space

SAMPLERS = ("sobol", "random", "qmc", "tpe")
LOW, HIGH = 1e-5, 1e-1
SPACES = {
    "1-D log lr": ["optim.lr=tag(log, interval(1e-5, 1e-1))"],
    "2-D log lr + momentum": ["optim.lr=tag(log, interval(1e-5, 1e-1))", "optim.momentum=interval(0.5, 0.99)"],
}


def objective(params: dict, optimum: tuple) -> float:
    """A bowl in log10(lr) (and momentum): 0 at the optimum."""
    value = (math.log10(params["optim.lr"]) - optimum[0]) ** 2
    if "optim.momentum" in params:
        value += 4 * (params["optim.momentum"] - optimum[1]) ** 2
    return value


def one_sweep(sampler: str, space, budget: int, seed: int, optimum: tuple) -> tuple:
    """(best value, share of the budget's equal log-lr slices that hold a point)."""
    study = optuna.create_study(sampler=build_sampler(sampler, {}, seed, tuple(space.params)))
    values, slices = [], set()
    for _ in range(budget):
        trial = study.ask(space.distributions())
        value = objective(trial.params, optimum)
        study.tell(trial, value)
        values.append(value)
        position = (math.log(trial.params["optim.lr"]) - math.log(LOW)) / (math.log(HIGH) - math.log(LOW))
        slices.add(min(int(position * budget), budget - 1))
    return min(values), len(slices) / budget


def synthetic(repeats: int, budgets) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optima = np.random.default_rng(12345).uniform([math.log10(LOW), 0.5], [math.log10(HIGH), 0.99], (repeats, 2))
    for name, overrides in SPACES.items():
        space = parse_space(overrides)
        print(f"{name}: regret of the best trial (mean, 90th percentile) and slices covered, {repeats} repeats")
        for budget in budgets:
            cells = []
            for sampler in SAMPLERS:
                results = [one_sweep(sampler, space, budget, seed, tuple(optima[seed])) for seed in range(repeats)]
                regret, covered = np.array([r[0] for r in results]), np.mean([r[1] for r in results])
                cells.append(f"{sampler} {regret.mean():.3f} / {np.quantile(regret, 0.9):.3f} / {covered:.0%}")
            print(f"  {budget:>2} trials   " + "   ".join(cells))


def real(seeds, budget: int) -> None:
    """The default experiment's SGD learning rate, swept by each sampler: the best val/loss found."""
    tiny = ["optim=sgd", "optim.lr=tag(log, interval(1e-4, 1))", "trainer.max_epochs=2", "trainer.progress_bar=false",
            f"hydra.sweeper.n_trials={budget}", "logger=csv"]
    print(f"real sweeps: default experiment, SGD lr in [1e-4, 1], {budget} trials of 2 epochs; best val/loss")
    for sampler in ("sobol", "random"):
        bests = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as folder:
                sweep_dir = Path(folder) / "sweep"
                subprocess.run([sys.executable, "-m", "dlrun", "-m", *tiny, f"hydra.sweeper.sampler={sampler}",
                                f"hydra.sweeper.seed={seed}", f"hydra.sweep.dir={sweep_dir}"], cwd=folder,
                               check=True, capture_output=True)
                with open(sweep_dir / "summary.csv") as handle:
                    losses = [float(row["val/loss"]) for row in csv.DictReader(handle) if row.get("val/loss")]
            bests.append(min(losses))
        print(f"  {sampler:<7} best val/loss per seed {' '.join(f'{b:.4f}' for b in bests)}   mean {np.mean(bests):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--real", action="store_true", help="also run real dlrun sweeps (minutes)")
    parser.add_argument("--smoke", action="store_true", help="a few repeats, for CI")
    args = parser.parse_args()
    synthetic(3 if args.smoke else args.repeats, (4, 8) if args.smoke else (4, 8, 16))
    if args.real:
        real(range(1) if args.smoke else range(3), 2 if args.smoke else 8)


if __name__ == "__main__":
    main()
