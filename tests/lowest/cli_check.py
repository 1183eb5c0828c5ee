"""`make test-lowest`, last step: one run and one 2-trial sweep through the real `dlrun` CLI
of this interpreter's environment, checked on what they wrote (not only their exit codes)."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def dlrun(*args: str, cwd: Path) -> None:
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("PYTHONPATH", None)  # the environment's own dlrun, as a user's shell finds it
    completed = subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=cwd, env=env, text=True,
                               capture_output=True, timeout=1800)
    if completed.returncode != 0:
        sys.exit(f"dlrun {' '.join(args)}: exit {completed.returncode}\n{completed.stdout[-3000:]}"
                 f"\n{completed.stderr[-3000:]}")


def check_run(folder: Path) -> str:
    dlrun("trainer.max_epochs=2", f"hydra.run.dir={folder / 'run'}", cwd=folder)
    summary = json.loads((folder / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 2, summary
    assert math.isfinite(summary["objective"]["value"]) and summary["test"]["test/acc"] > 0.5, summary
    assert (folder / "run" / "checkpoints" / "best.ckpt").stat().st_size > 0
    return f"run: completed, 2 epochs, test/acc={summary['test']['test/acc']:.3f}"


def check_sweep(folder: Path) -> str:
    dlrun("-m", "optim.lr=tag(log, interval(1e-3, 1e-1))", "hydra.sweeper.n_trials=2", "trainer.max_epochs=2",
          f"hydra.sweep.dir={folder / 'sweep'}", cwd=folder)
    with open(folder / "sweep" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["completed", "completed"], rows
    assert all(1e-3 <= float(row["optim.lr"]) <= 1e-1 and math.isfinite(float(row["val/loss"])) for row in rows), rows
    losses = ", ".join(f"{float(row['val/loss']):.3f}" for row in rows)
    return f"sweep: 2 trials completed, val/loss {losses}"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dlrun-lowest-") as name:
        folder = Path(name)
        print(check_run(folder))
        print(check_sweep(folder))


if __name__ == "__main__":
    main()
