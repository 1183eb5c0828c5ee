"""Metric names, defined once. Configs refer to them (`objective: val/loss`)."""

from __future__ import annotations

STAGES = ("train", "val", "test")
METRICS_BY_TASK = {
    "classification": ("loss", "acc"),
    "sequence": ("loss", "acc"),
    "regression": ("loss", "mae"),
}
LR = "lr"


def metric_name(stage: str, metric: str) -> str:
    return f"{stage}/{metric}"


def all_metric_names() -> list:
    names = {metric_name(stage, metric) for stage in STAGES for metrics in METRICS_BY_TASK.values() for metric in metrics}
    return sorted(names)


def direction(metric: str) -> str:
    """'minimize' for losses and errors, 'maximize' for accuracies."""
    return "maximize" if metric.rsplit("/", 1)[-1] in ("acc",) else "minimize"
