"""metrics.csv's writer (dlrun.loggers.csv_logger): rewritten at most once a second, and at
once when a checkpoint or the run's end asks (a resume continues from the checkpoint's step,
so every row before it must be on disk by then)."""

from __future__ import annotations

from dlrun.loggers.csv_logger import csv_logger, flush_metrics_file
from dlrun.training.metrics_file import read_metric_rows


def _steps(path) -> list:
    return [int(row["step"]) for row in read_metric_rows(path)]


def test_a_save_within_the_interval_waits_and_a_forced_one_writes(tmp_path):
    logger = csv_logger(None, tmp_path)
    writer = logger.experiment
    writer.min_interval_s = 3600.0  # every unforced save after the first falls within the interval
    writer.log_metrics({"train/loss": 1.0}, step=0)
    writer.save()
    assert _steps(tmp_path / "metrics.csv") == [0]  # the first save writes
    writer.log_metrics({"train/loss": 0.5}, step=1)
    writer.save()
    assert _steps(tmp_path / "metrics.csv") == [0]  # held back
    flush_metrics_file([logger])  # what TaskModule.on_save_checkpoint calls
    assert _steps(tmp_path / "metrics.csv") == [0, 1]
    writer.log_metrics({"train/loss": 0.25, "val/loss": 0.3}, step=2)
    logger.finalize("success")  # the run's end (and a failed or interrupted one) writes what is held
    rows = read_metric_rows(tmp_path / "metrics.csv")
    assert [int(row["step"]) for row in rows] == [0, 1, 2] and rows[2]["val/loss"] == "0.3"


def test_a_save_after_the_interval_writes_without_reading_the_file_back(tmp_path):
    logger = csv_logger(None, tmp_path)
    writer = logger.experiment
    writer.min_interval_s = 0.0
    for step in range(3):
        writer.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
        writer.save()
    (tmp_path / "metrics.csv").write_text("damaged\n")  # the writer keeps its rows: the next save restores them
    writer.log_metrics({"train/loss": 0.1}, step=3)
    writer.save()
    assert _steps(tmp_path / "metrics.csv") == [0, 1, 2, 3]
