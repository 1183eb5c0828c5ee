"""A Hydra callback that writes the study's report when its sweep ends, so a study is one
command. An experiment turns it on:

    hydra:
      callbacks:
        study_report:
          _target_: dlrun.report.hook.StudyReport
"""

from __future__ import annotations

import logging

from hydra.experimental.callback import Callback

log = logging.getLogger("dlrun")


class StudyReport(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        from dlrun.report.command import print_report, write_report

        folder = str(config.hydra.sweep.dir)
        try:
            print_report(write_report([folder]))
        except Exception as error:  # the sweep itself succeeded: say how to retry, do not fail it
            log.error("study report not written (%s: %s); retry with: dlrun report %s", type(error).__name__, error,
                      folder)
