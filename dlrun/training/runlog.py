"""run.log: the one way a process sends its log lines to a run folder (and the console)."""

from __future__ import annotations

import logging
from pathlib import Path

# the format of Hydra's own job logging, so every run.log reads alike
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


def attach_run_log(run_dir, console=None) -> list:
    """Root-logger handlers for RUN_DIR/run.log (appended) and, given a stream, the console;
    INFO and up. Returns the handlers, for whoever detaches them later."""
    formatter = logging.Formatter(LOG_FORMAT)
    handlers = [logging.FileHandler(Path(run_dir) / "run.log", mode="a")]
    if console is not None:
        handlers.append(logging.StreamHandler(console))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return handlers


def detach(handlers) -> None:
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
        handler.close()
