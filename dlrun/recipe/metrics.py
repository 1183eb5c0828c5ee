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


# Metrics of every run that no training step logs: the model's parameter count and the run's
# wall time (summary.json's `params` and `wall_time_s`). A sweep may trade them off against a
# trained metric (objective=[val/loss,params]); they never pick a checkpoint.
RUN_METRICS = ("params", "wall_time")


def objectives(value) -> list:
    """The objective setting as a list of metric names: `val/loss` or `[val/loss, params]`."""
    return [value] if isinstance(value, str) else [str(item) for item in value]


def primary_objective(value) -> str:
    """The first objective: the one that picks the best checkpoint, stops early and prunes."""
    return objectives(value)[0]


def is_objective_setting(value) -> bool:
    """A metric name, or a non-empty list of distinct ones whose first is a trained metric (it
    picks each run's best checkpoint) and whose others may be RUN_METRICS too."""
    trained = all_metric_names()
    if isinstance(value, str):
        return value in trained
    names = list(value) if isinstance(value, (list, tuple)) else []
    return (bool(names) and names[0] in trained and len(set(names)) == len(names)
            and all(name in (*trained, *RUN_METRICS) for name in names))


def objective_allowed() -> str:
    return (f"a metric name ({', '.join(all_metric_names())}) or a list of distinct ones, the first of them "
            f"such a name (it picks the best checkpoint), the others may also be {' or '.join(RUN_METRICS)}")
