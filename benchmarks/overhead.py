"""dlrun's training throughput against a hand-written PyTorch loop and against a bare
LightningModule, in one process.

All three sides train the same model (built by dlrun's own factory from the same config),
on the same preloaded tensors, with the same optimizer, for the same number of steps; only
the training steps are timed (no validation, no start-up). The bare side is what a
Lightning user writes with no framework on top: a LightningModule whose training_step
returns the loss, Lightning's Trainer with no callbacks, no logger, no progress bar, no
checkpointing, fed by the same batch iterable as dlrun. Prints steps/s and the ratios
dlrun / hand-written and dlrun / bare Lightning (dlrun's own overhead; target >= 0.95) for
each case, the median of the repeats (the sides alternate within each repeat).

    python benchmarks/overhead.py                 # all cases, 3 repeats
    python benchmarks/overhead.py --smoke         # a few steps each: CI checks it still runs
    python benchmarks/overhead.py --case mlp --override trainer.log_every_n_steps=100000   # without logged steps
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

# wall time by default; --clock cpu (this process's CPU time) when other work shares the
# machine: with one torch thread both sides' steps are CPU-bound, so CPU time is their cost
CLOCK = time.perf_counter
PRINT_EXACT = False  # --smoke: each case's unrounded numbers on a line of JSON too

CASES = {
    "a: mlp on digits": ["model=mlp", "data=digits"],
    "b: cnn on digits": ["model=cnn", "data=digits"],
    "c: transformer on reverse": ["model=transformer", "data=reverse", "model.width=128", "model.depth=2",
                                  "data.length=32", "data.batch_size=32"],
}


def _compose(overrides):
    from dlrun.config.compose import compose
    from dlrun.config.validate import validated

    return validated(compose(overrides))


def hand_written_steps_per_second(cfg, steps: int) -> float:
    """The loop a researcher writes by hand: preloaded tensors indexed per batch."""
    import torch

    from dlrun.training.runner import build_components

    torch.manual_seed(cfg.seed)
    datamodule, task = build_components(cfg)
    inputs, targets = datamodule.splits.train
    model, loss_of = task.model, task._losses_and_metrics
    from dlrun.recipe.optim import build_optimizer

    optimizer = build_optimizer(cfg.optim, model)
    batch = cfg.data.batch_size
    model.train()
    started, done = None, 0
    while done < steps + 5:
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs) - batch + 1, batch):
            if done == 5:  # the first steps warm up allocators and caches
                started = CLOCK()
            index = order[start : start + batch]
            loss = loss_of(model(inputs[index]), targets[index], with_metrics=False)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps + 5:
                break
    return steps / (CLOCK() - started)


def dlrun_steps_per_second(cfg, steps: int) -> float:
    """dlrun's own Trainer (its callbacks, loggers and data path), training steps only."""
    import lightning as L

    from dlrun.training.runner import build_components
    from dlrun.training.trainer import build_trainer

    class StepClock(L.Callback):
        def __init__(self):
            self.started = self.stopped = None

        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == 5 and self.started is None:
                self.started = CLOCK()

        def on_train_end(self, trainer, *args):
            self.stopped = CLOCK()

    clock = StepClock()
    with tempfile.TemporaryDirectory() as run_dir:
        L.seed_everything(cfg.seed, verbose=False)
        datamodule, task = build_components(cfg)
        trainer = build_trainer(cfg, Path(run_dir), extra_callbacks=[clock])
        with contextlib.redirect_stdout(io.StringIO()):  # the progress bar (it is drawn, not shown)
            trainer.fit(task, datamodule=datamodule)
        return (trainer.global_step - 5) / (clock.stopped - clock.started)


def bare_lightning_steps_per_second(cfg, steps: int) -> float:
    """A bare LightningModule under a Trainer with nothing added: Lightning's own floor."""
    import lightning as L

    from dlrun.data.loaders import TensorBatches
    from dlrun.recipe.optim import build_optimizer
    from dlrun.training.runner import build_components

    class Bare(L.LightningModule):
        def __init__(self, model, loss_of):
            super().__init__()
            self.model, self.loss_of = model, loss_of

        def training_step(self, batch, batch_idx):
            inputs, targets = batch
            return self.loss_of(self.model(inputs), targets, with_metrics=False)["loss"]

        def configure_optimizers(self):
            return build_optimizer(cfg.optim, self.model)

    class StepClock(L.Callback):
        started = stopped = None

        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == 5 and self.started is None:
                self.started = CLOCK()

        def on_train_end(self, trainer, *args):
            self.stopped = CLOCK()

    L.seed_everything(cfg.seed, verbose=False)
    datamodule, task = build_components(cfg)
    batches = TensorBatches(*datamodule.splits.train, batch_size=cfg.data.batch_size, shuffle=True, seed=cfg.seed)
    clock = StepClock()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps + 5, max_epochs=-1, logger=False,
                        callbacks=[clock], enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(Bare(task.model, task._losses_and_metrics), train_dataloaders=batches)
    return (trainer.global_step - 5) / (clock.stopped - clock.started)


def measure(name, overrides, steps, repeats):
    # the step budget ends the dlrun side; validation off on every side
    cfg = _compose([*overrides, "trainer.limit_val_batches=0", f"trainer.max_steps={steps + 5}",
                    "trainer.max_epochs=100000"])
    raw, bare, ours = [], [], []
    for _ in range(repeats):
        raw.append(hand_written_steps_per_second(cfg, steps))
        bare.append(bare_lightning_steps_per_second(cfg, steps))
        ours.append(dlrun_steps_per_second(cfg, steps))
    to_hand = statistics.median(o / r for o, r in zip(ours, raw))
    to_bare = statistics.median(o / b for o, b in zip(ours, bare))
    print(f"{name:28s} hand-written {statistics.median(raw):8.1f} steps/s   bare Lightning "
          f"{statistics.median(bare):8.1f} steps/s   dlrun {statistics.median(ours):8.1f} steps/s   "
          f"ratio {to_hand:5.3f}   vs bare {to_bare:5.3f}", flush=True)
    if PRINT_EXACT:  # the same numbers unrounded, for a check that cannot depend on rounding or speed
        print("  exact " + json.dumps({"repeats": repeats, "hand": raw, "bare": bare, "dlrun": ours,
                                       "ratio": to_hand, "vs_bare": to_bare}), flush=True)
    return to_hand, to_bare


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, pinned for both sides")
    parser.add_argument("--case", action="append", help="substring of a case name (default: all)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: process CPU time, robust when other processes load the machine")
    parser.add_argument("--smoke", action="store_true", help="a few steps, one repeat")
    parser.add_argument("--override", action="append", default=[],
                        help="a dlrun override for every case (e.g. trainer.log_every_n_steps=100000: "
                             "what dlrun's side costs without a given feature)")
    args = parser.parse_args(argv)
    import torch

    from dlrun.models.zoo import MODELS

    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    steps, repeats = (10, 1) if args.smoke else (args.steps, args.repeats)
    global PRINT_EXACT
    PRINT_EXACT = args.smoke
    print(f"torch {torch.__version__}, {args.threads} thread(s), {steps} timed steps, median of {repeats}, "
          f"{args.clock} clock")
    for name, overrides in CASES.items():
        model = overrides[0].split("=")[1]
        if args.case and not any(part in name for part in args.case):
            continue
        if model not in MODELS:
            print(f"{name:32s} skipped: model {model!r} is not registered")
            continue
        measure(name, [*overrides, *args.override], steps, repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
