"""A Hydra callback that writes the study's report when its sweep ends, so a study is one
command. An experiment turns it on:

    hydra:
      callbacks:
        study_report:
          _target_: dlrun.report.hook.StudyReport
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from hydra.experimental.callback import Callback

log = logging.getLogger("dlrun")


class StudyReport(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        from dlrun.report.study import print_report, write_report

        folder = str(config.hydra.sweep.dir)
        try:
            print_report(write_report([folder]))
        except Exception as error:  # the sweep itself succeeded: say how to retry, do not fail it
            log.error("study report not written (%s: %s); retry with: dlrun report %s", type(error).__name__, error,
                      folder)


class CompanionSweep(Callback):
    """After this sweep, run a companion sweep (another experiment on the same task, e.g.
    the same budget under another sampler: one sweep has one sampler) next to it, then write
    one report comparing both. A study of two sweeps is still one command.

        hydra:
          callbacks:
            companion:
              _target_: dlrun.report.hook.CompanionSweep
              experiment: random_vs_grid_random   # its sweep goes to SWEEP_DIR_random
              suffix: random                       # the comparison to SWEEP_DIR/comparison/
    """

    def __init__(self, experiment: str, suffix: str):
        self.experiment, self.suffix = experiment, suffix

    def _companion_command(self, config, folder: Path) -> list:
        # the user's own overrides (a shorter budget, a launcher, hydra.sweeper.seed: Hydra keeps
        # hydra.* apart from the task's) apply to both halves; not this sweep's folder, nor the mode Hydra adds
        overrides = [*config.hydra.overrides.hydra, *config.hydra.overrides.task]
        kept = [override for override in overrides
                if not override.lstrip("+").startswith(("experiment=", "hydra.sweep.dir=", "hydra.mode="))]
        return [sys.executable, "-m", "dlrun", "-m", f"+experiment={self.experiment}", *kept,
                f"hydra.sweep.dir={folder}"]

    def on_multirun_end(self, config, **kwargs) -> None:
        from dlrun.report.study import print_report, write_report

        folder = Path(str(config.hydra.sweep.dir))
        companion = folder.with_name(f"{folder.name}_{self.suffix}")
        command = self._companion_command(config, companion)
        log.info("companion sweep: %s", " ".join(command[2:]))
        if subprocess.run(command).returncode != 0:
            log.error("companion sweep %s failed; compare by hand with: dlrun report %s %s", companion, folder, companion)
            return
        print_report(write_report([folder, companion], out_dir=folder / "comparison"))
