"""The CSV logger: Lightning's, writing metrics.csv whole and atomically (dlrun.training.metrics_file)."""

from __future__ import annotations

import time

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from dlrun.base.lightning_private import record_new_csv_columns, set_csv_writer
from dlrun.training.metrics_file import write_metric_rows


class _AtomicWriter(ExperimentWriter):
    # Lightning saves after every logging step, and a save here rewrites and fsyncs the whole
    # file: a save within this many seconds of the last write waits for the next save, the
    # run's end (finalize) or a checkpoint (flush_metrics_file), whichever comes first. Every
    # 10th step of the default MLP: 60 writes in 600 steps, 8% of the step time on a busy machine.
    min_interval_s = 1.0
    _last_write = None

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir=log_dir)  # Lightning removes a metrics.csv it finds here
        self._written = []  # the rows the file holds, kept so that a save need not read it back

    def save(self, force: bool = False) -> None:
        if not self.metrics:
            return
        now = time.monotonic()
        if not force and self._last_write is not None and now - self._last_write < self.min_interval_s:
            return
        record_new_csv_columns(self)
        rows = self._written + self.metrics
        write_metric_rows(self.metrics_file_path, rows)
        self._written, self.metrics, self._last_write = rows, [], now


class _AtomicCSVLogger(CSVLogger):
    @rank_zero_only
    def finalize(self, status: str) -> None:
        flush_metrics_file([self])


def flush_metrics_file(loggers) -> None:
    """Write the rows a throttled save held back: before a checkpoint, so that the file holds
    every row up to the step a resume continues from (and at the run's end)."""
    for logger in loggers:
        if isinstance(logger, _AtomicCSVLogger):
            logger.experiment.save(force=True)  # the writer csv_logger() gave it (a no-op off rank zero)


def csv_logger(cfg, run_dir) -> CSVLogger:
    # name="" and version="" put metrics.csv straight into the run folder
    logger = _AtomicCSVLogger(save_dir=str(run_dir), name="", version="")
    set_csv_writer(logger, _AtomicWriter(log_dir=logger.log_dir))  # the writer CSVLogger would make, atomic
    return logger
