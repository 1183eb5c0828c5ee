"""The CSV logger: Lightning's, writing metrics.csv whole and atomically (dlrun.training.metrics_file)."""

from __future__ import annotations

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from dlrun.base.lightning_private import record_new_csv_columns, set_csv_writer
from dlrun.training.metrics_file import read_metric_rows, write_metric_rows


class _AtomicWriter(ExperimentWriter):
    def save(self) -> None:
        if not self.metrics:
            return
        record_new_csv_columns(self)
        write_metric_rows(self.metrics_file_path, read_metric_rows(self.metrics_file_path) + self.metrics)
        self.metrics = []


def csv_logger(cfg, run_dir) -> CSVLogger:
    # name="" and version="" put metrics.csv straight into the run folder
    logger = CSVLogger(save_dir=str(run_dir), name="", version="")
    set_csv_writer(logger, _AtomicWriter(log_dir=logger.log_dir))  # the writer CSVLogger would make, atomic
    return logger
