"""The CSV logger: Lightning's, writing metrics.csv whole and atomically (dlrun.training.metrics_file)."""

from __future__ import annotations

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from dlrun.training.metrics_file import read_metric_rows, write_metric_rows


class _AtomicWriter(ExperimentWriter):
    # the rows the file holds, kept so that a save (one per logging step) need not read it back
    _written = None

    def save(self) -> None:
        if not self.metrics:
            return
        self._record_new_keys()
        if self._written is None:  # the first save: whatever a file here already holds
            self._written = read_metric_rows(self.metrics_file_path)
        rows = self._written + self.metrics
        write_metric_rows(self.metrics_file_path, rows)
        self._written, self.metrics = rows, []


def csv_logger(cfg, run_dir) -> CSVLogger:
    # name="" and version="" put metrics.csv straight into the run folder
    logger = CSVLogger(save_dir=str(run_dir), name="", version="")
    logger._experiment = _AtomicWriter(log_dir=logger.log_dir)  # the writer CSVLogger would make, atomic
    return logger
