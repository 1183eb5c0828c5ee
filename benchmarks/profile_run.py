"""Where one `dlrun` run's time goes, process start to exit: a timed phase table.

Runs the `dlrun` command in this process (overrides as arguments; none: the default
experiment) with timers around its phases: the imports (torch, then Lightning: torch._dynamo
and torchmetrics come with it), the command-line check, Hydra's composes, building, fit (and
inside it the validation passes, checkpoint writes, logger writes), test, plots, summary.
Inclusive seconds; nested phases are indented. For a function-level view run the same under
`python -m cProfile -s cumulative -m dlrun` or `python -X importtime -m dlrun`.

    python benchmarks/profile_run.py                    # the default experiment
    python benchmarks/profile_run.py trainer.max_epochs=2
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import functools  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402

SECONDS, CALLS = defaultdict(float), defaultdict(int)
# (label, module, attribute path): the phases, in the order they are printed; a leading
# space nests a phase in the one above it
PHASES = [
    ("command-line check (compose + validate)", "dlrun.cli.precheck", "check_command_line"),
    ("Hydra composes (the check's and the app's)", "hydra._internal.hydra", "Hydra.compose_config"),
    ("run (execute)", "dlrun.training.runner", "execute"),
    (" build data, model, task", "dlrun.training.runner", "build_components"),
    (" build trainer", "dlrun.training.trainer", "build_trainer"),
    (" fit", "lightning.pytorch.trainer.trainer", "Trainer.fit"),
    ("  validation passes", "lightning.pytorch.loops.evaluation_loop", "_EvaluationLoop.run"),
    ("  checkpoint writes", "lightning.pytorch.trainer.trainer", "Trainer.save_checkpoint"),
    ("  logger writes (metrics.csv)", "dlrun.loggers.csv_logger", "_AtomicWriter.save"),
    (" test", "lightning.pytorch.trainer.trainer", "Trainer.test"),
    (" plots", "dlrun.report.curves", "save_figure"),
    (" summary.json writes", "dlrun.training.run_files", "write_summary"),
    ("result lines", "dlrun.training.console", "print_result"),
]


def timed(label, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - started
            CALLS[label] += 1
    return wrapper


def install_timers() -> None:
    for label, module_name, path in PHASES:
        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, timed(label, getattr(owner, name)))


def main(argv) -> int:
    started = time.perf_counter()
    import torch  # noqa: F401
    SECONDS["import torch"] = time.perf_counter() - started
    started = time.perf_counter()
    import lightning  # noqa: F401
    SECONDS["import lightning (after torch)"] = time.perf_counter() - started
    install_timers()
    from dlrun.cli.main import main as dlrun_main

    code = 0
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        try:
            dlrun_main(argv)
        except SystemExit as stop:
            code = stop.code or 0
    total = time.perf_counter() - STARTED
    print(f"\n{'phase':46s} {'seconds':>8s} {'calls':>6s}", file=sys.stderr)
    for label in ["import torch", "import lightning (after torch)"] + [label for label, *_ in PHASES]:
        print(f"{label:46s} {SECONDS[label]:8.3f} {CALLS[label] or '':>6}", file=sys.stderr)
    print(f"{'process start to exit (this script)':46s} {total:8.3f}   exit {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
