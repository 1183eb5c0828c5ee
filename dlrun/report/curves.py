"""Run plots: plots/curves.png (loss and accuracy against step, train and val overlaid) and
plots/diagnostics.png (the diagnostics callbacks' series, one panel per kind). A run draws
them through `plot_run`, the end-of-run hook its caller hands in (dlrun.training.hooks); a
population draws one overlaid figure for its members (dlrun.report.figures.plot_population)
and the best member's own curves."""

from __future__ import annotations

from pathlib import Path


def plot_run(trainer, run_dir: Path) -> None:
    """A finished run's plots, from its trainer's metric history and diagnostics callbacks."""
    from dlrun.callbacks.recorder import diagnostic_series
    from dlrun.training.history import MetricHistory
    from dlrun.training.trainer import find_callback

    plot_curves(find_callback(trainer, MetricHistory), run_dir)
    plot_diagnostics(diagnostic_series(trainer), run_dir)


def plot_curves(history, run_dir: Path):
    """Write plots/curves.png from a MetricHistory; None when there is nothing to plot."""
    names = history.metric_names()
    metrics = sorted({name.split("/", 1)[1] for name in names if "/" in name})
    if not metrics:
        return None
    plt = pyplot()
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for stage in ("train", "val"):
            points = history.series(f"{stage}/{metric}")
            if points:
                steps, values = zip(*points)
                axis.plot(steps, values, label=stage, marker="o" if stage == "val" else None, markersize=3)
        axis.set_xlabel("step")
        axis.set_ylabel(metric)
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    return save_figure(figure, Path(run_dir) / "plots" / "curves.png")


# Panels whose values span decades are drawn on a log axis.
LOG_SCALE_KINDS = ("grad_norm", "update_ratio", "act_std")
HEALTHY_UPDATE_RATIO = 1e-3


def plot_diagnostics(panels: dict, run_dir: Path):
    """Write plots/diagnostics.png from {kind: {layer: [(step, value)]}}: one panel per
    kind (grad_norm, update_ratio, act_mean, ...), one line per layer; None when empty."""
    if not panels:
        return None
    plt = pyplot()
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.8 * rows), squeeze=False)
    for axis, (kind, layers) in zip(axes.flat, sorted(panels.items())):
        for layer, points in layers.items():
            steps, values = zip(*points)
            axis.plot(steps, values, label=layer, linewidth=2.5 if layer == "total" else 1.2)
        if kind in LOG_SCALE_KINDS and all(v > 0 for points in layers.values() for _, v in points):
            axis.set_yscale("log")
        if kind == "update_ratio":
            axis.axhline(HEALTHY_UPDATE_RATIO, color="grey", linestyle="--", linewidth=1, label="1e-3")
        axis.set_title(kind)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6, ncol=2)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    return save_figure(figure, Path(run_dir) / "plots" / "diagnostics.png")


def pyplot():
    """matplotlib.pyplot on the Agg backend: files only, no display on servers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> Path:
    """Write the figure to `path` (folders made) and close it (pyplot keeps every open one alive)."""
    path = Path(path)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot().close(figure)
    return path
