"""What a person sees, by audience.

On a terminal: a short header (run folder, the overrides given, the device), a progress bar,
the result table. In a batch log (stdout or stderr not a terminal: CI, SLURM, `> log`): the
same header and result, one line per epoch instead of the bar, no control characters. A sweep
trial prints nothing of its own: the sweep prints one line per trial. The whole resolved
config is in RUN_DIR/.hydra/config.yaml (and `dlrun show`), not on the console.

run.log: attach_run_log is the one way a process sends its log lines to a run folder (and
the console).
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from dlrun.training.record import RECORD_FILE

# rich draws tables this wide when it cannot ask a terminal; paths are printed outside them, whole
BATCH_WIDTH = 100


def in_sweep_trial() -> bool:
    """True inside a job of a Hydra multirun (any launcher: this process, joblib, SLURM)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def on_terminal() -> bool:
    """A person watches: both output streams are terminals (a progress bar may redraw itself)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class ConsoleFilter(logging.Filter):
    """The console handler's filter (conf/config.yaml, hydra.job_logging): in a sweep only the
    sweep's own lines and dlrun's warnings and errors reach the console (a library's lines, a
    trial's progress: its run.log, which keeps everything)."""

    def filter(self, record) -> bool:
        if record.name.startswith("dlrun.sweep"):
            return True
        if not in_sweep_trial():
            return True
        return record.levelno >= logging.WARNING and (record.name == "dlrun" or record.name.startswith("dlrun."))


@contextmanager
def output_to_run_log(run_dir):
    """A sweep trial's own output (the user's print, Python warnings, W&B's and other libraries'
    lines written to sys.stdout / sys.stderr) goes to RUN_DIR/run.log while inside; the console
    keeps the sweep's lines (the logging handlers hold the console stream itself). Python-level
    writes only: a subprocess or C library writing to the file descriptors is not caught."""
    if not in_sweep_trial():
        yield
        return
    with open(Path(run_dir) / "run.log", "a", buffering=1) as run_log, \
            redirect_stdout(run_log), redirect_stderr(run_log):
        yield


class ConsoleFormatter(logging.Formatter):
    """Console lines: the message alone, with the level in front from warnings up (run.log keeps
    the full format with time and logger)."""

    def format(self, record) -> str:
        message = super().format(record)
        return message if record.levelno < logging.WARNING else f"{record.levelname}: {message}"


def _console():
    from rich.console import Console

    return Console(width=None if on_terminal() else BATCH_WIDTH, soft_wrap=False)


def _saved_overrides(run_dir: Path) -> list:
    """The overrides this run was started with, as Hydra and dlrun.run save them."""
    from omegaconf import OmegaConf

    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    return [str(item) for item in OmegaConf.load(path)] if path.is_file() else []


def describe_device(hardware) -> str:
    """`cpu, 1 thread` | `gpu x 4, ddp, bf16-mixed`: what will train, as configured."""
    parts = [str(hardware.accelerator) + (f" x {hardware.devices}" if str(hardware.devices) != "1" else "")]
    if hardware.get("num_nodes", 1) != 1:
        parts.append(f"{hardware.num_nodes} nodes")
    if str(hardware.strategy) != "auto":
        parts.append(str(hardware.strategy))
    if str(hardware.precision) != "32-true":
        parts.append(str(hardware.precision))
    if hardware.accelerator == "cpu":
        threads = hardware.get("threads")
        parts.append("torch's default threads" if threads is None else f"{threads} thread{'s' * (threads != 1)}")
    return ", ".join(parts)


def header_lines(cfg, run_dir: Path, overrides, title: str | None = None) -> list:
    given = " ".join(overrides) if overrides else "none (the defaults; `dlrun show` prints the config)"
    return [f"{title or 'dlrun ' + cfg.name}: {Path(run_dir).resolve()}", f"  overrides: {given}",
            f"  device:    {describe_device(cfg.hardware)}"]


def print_header(cfg, run_dir, title: str | None = None) -> None:
    """Three lines before training (none in a sweep trial)."""
    if in_sweep_trial():
        return
    for line in header_lines(cfg, run_dir, _saved_overrides(run_dir), title):
        print(line, flush=True)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def result_table(summary: dict):
    """`dlrun: NAME [STATUS]` over the final and test metrics, the best objective, steps and time."""
    from rich.markup import escape
    from rich.table import Table

    title = f"dlrun: {summary['name']} [{summary['status']}]"
    # escaped: rich would read "[completed]" as a style tag and drop it; min_width: the title on one line
    table = Table(title=escape(title), show_header=True, min_width=len(title) + 4)
    table.add_column("")
    table.add_column("value")
    for section in ("final", "test"):
        for name, value in sorted(summary.get(section, {}).items()):
            table.add_row(name, _number(value))
    objective = summary["objective"]
    table.add_row(f"best {objective['metric']}", _number(objective["value"]) if objective["value"] is not None else "-")
    table.add_row("steps", str(summary["global_step"]))
    table.add_row("wall time", f"{summary['wall_time_s']:.1f} s" if summary["wall_time_s"] is not None else "-")
    return table


def result_lines(summary: dict) -> list:
    """What follows the table, whole: long paths and the error do not fit a table cell."""
    lines = [f"run folder: {Path(summary['run_dir']).resolve()}"]
    if summary.get("best_checkpoint"):
        lines.append(f"best checkpoint: {Path(summary['best_checkpoint']).resolve()}")
    if summary.get("error"):
        lines.append(f"error: {summary['error'].strip().splitlines()[-1]}")
    elif (Path(summary["run_dir"]) / RECORD_FILE).is_file():  # from any folder: the record says where it ran
        lines.append(f"make it again: dlrun rerun {Path(summary['run_dir']).resolve()}")
    return lines


def print_result(summary: dict) -> None:
    """The result table and the run's paths (nothing in a sweep trial)."""
    if in_sweep_trial():
        return
    console = _console()
    console.print(result_table(summary))
    for line in result_lines(summary):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


# the format of Hydra's own job logging, so every run.log reads alike
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


def attach_run_log(run_dir, console=None) -> list:
    """Root-logger handlers for RUN_DIR/run.log (appended, the full format) and, given a stream,
    the console (ConsoleFormatter: the lines a run started by Hydra prints); INFO and up.
    Returns the handlers, for whoever detaches them later."""
    handlers = [logging.FileHandler(Path(run_dir) / "run.log", mode="a")]
    handlers[0].setFormatter(logging.Formatter(LOG_FORMAT))
    if console is not None:
        handlers.append(logging.StreamHandler(console))
        handlers[-1].setFormatter(ConsoleFormatter())
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return handlers


def detach(handlers) -> None:
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
        handler.close()
