"""plots/curves.png: loss and accuracy (or error) against step, train and val overlaid."""

from __future__ import annotations

from pathlib import Path


def plot_curves(history, run_dir: Path):
    """Write plots/curves.png from a MetricHistory; None when there is nothing to plot."""
    names = history.metric_names()
    metrics = sorted({name.split("/", 1)[1] for name in names if "/" in name})
    if not metrics:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

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
    figure.tight_layout()
    path = Path(run_dir) / "plots" / "curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
