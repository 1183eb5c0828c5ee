"""What the caller of a run adds to it. The run layer names no layer above it (DESIGN:
Layers): a sweep's pruning and the run's plots are handed in here by whoever starts the
run (dlrun.cli.app, dlrun.cli.api, `dlrun resume`), and a run launched as several
processes passes them on to its ranks by name.

A caller's callback that ends the run on purpose raises a `RunStopped` (a sweep's
`Pruned`): the summary's status is the exception's `status`, and the console gets one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dlrun.base.options import load_object


class RunStopped(RuntimeError):
    """A caller's callback stopped the run on purpose; str() says when and why."""

    status = "stopped"  # summary.json's status for such a run (a subclass names its own)


@dataclass(frozen=True)
class RunHooks:
    # factory(cfg, run_dir) -> a Lightning Callback or None, placed after the run's own
    # diagnostics and before its weight averaging and last.ckpt (dlrun.training.trainer)
    callbacks: tuple = ()
    # function(trainer, run_dir), on rank zero once the run's results are collected and
    # before its loggers close (a tracker uploads the plots drawn here)
    at_end: tuple = ()

    def save(self, path: Path) -> None:
        """Write the hooks as "module:function" names, for ranks started in other processes."""
        names = {"callbacks": [_name(hook) for hook in self.callbacks], "at_end": [_name(hook) for hook in self.at_end]}
        Path(path).write_text(json.dumps(names, indent=2))

    @classmethod
    def load(cls, path: Path) -> "RunHooks":
        """The hooks `save` wrote (none when it wrote nothing)."""
        path = Path(path)
        if not path.is_file():
            return cls()
        names = json.loads(path.read_text())
        return cls(tuple(map(load_object, names["callbacks"])), tuple(map(load_object, names["at_end"])))


def _name(hook) -> str:
    name = f"{hook.__module__}:{hook.__qualname__}"
    if "." in hook.__qualname__ or "<" in hook.__qualname__:
        raise ValueError(f"a run hook must be a module-level function (ranks import it by name): {name}")
    return name
