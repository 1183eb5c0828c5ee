"""Sweep plots in SWEEP_DIR/plots/: the objective against each numeric parameter (a log
axis for a log-scale parameter), the best value so far against the trial number, and for a
multi-objective sweep the trials on its first two objectives with the Pareto front marked."""

from __future__ import annotations

import re
from pathlib import Path

from dlrun.report.curves import pyplot, save_figure

# A list of positive numbers spanning this ratio or more is drawn on a log axis too.
LOG_SPAN = 100.0
STATUS_STYLE = {"completed": ("tab:blue", "o"), "pruned": ("tab:orange", "x")}


def numeric_values(values) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def axis_scale(distribution, values) -> str:
    """'log' for a log-scale distribution, or positive values spanning two decades or more."""
    if getattr(distribution, "log", False):
        return "log"
    positive = [v for v in values if v > 0]
    if len(positive) == len(values) and positive and max(positive) / min(positive) >= LOG_SPAN:
        return "log"
    return "linear"


def _file_name(key: str) -> str:
    return "objective_vs_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", key.lstrip("+~")) + ".png"


def plot_objective_vs_param(rows, key: str, distribution, objective: str, plots_dir: Path):
    """One scatter of the objective against `key`; None when the parameter is not numeric."""
    points = [(row.params[key], row.value, row.status) for row in rows
              if key in row.params and row.value is not None and row.status in STATUS_STYLE]
    if not points or not numeric_values([p[0] for p in points]):
        return None
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for status, (color, marker) in STATUS_STYLE.items():
        chosen = [(x, y) for x, y, s in points if s == status]
        if chosen:
            axis.scatter(*zip(*chosen), c=color, marker=marker, label=status)
    axis.set_xscale(axis_scale(distribution, [p[0] for p in points]))
    axis.set_xlabel(key)
    axis.set_ylabel(objective)
    axis.set_title(f"{objective} vs {key}")
    axis.grid(alpha=0.3)
    axis.legend()
    return save_figure(figure, plots_dir / _file_name(key))


def plot_best_so_far(rows, objective: str, maximize: bool, plots_dir: Path):
    """Each completed trial's objective and the best so far, against the trial number."""
    done = sorted((row.number, row.value) for row in rows if row.status == "completed" and row.value is not None)
    if not done:
        return None
    best, running = [], None
    for _, value in done:
        running = value if running is None else (max if maximize else min)(running, value)
        best.append(running)
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    numbers = [number for number, _ in done]
    axis.scatter(numbers, [value for _, value in done], c="tab:gray", s=14, label="trial")
    axis.step(numbers, best, where="post", c="tab:blue", label="best so far")
    axis.set_xlabel("trial")
    axis.set_ylabel(objective)
    axis.set_title(f"best {objective} so far")
    axis.grid(alpha=0.3)
    axis.legend()
    return save_figure(figure, plots_dir / "best_so_far.png")


def plot_pareto_front(rows, objectives: list, plots_dir: Path):
    """The completed trials on the first two objectives, the Pareto front (over every
    objective) marked and joined in the order of the first."""
    done = [row for row in rows if row.status == "completed" and len(row.values) >= 2]
    if not done:
        return None
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    others = [row.values[:2] for row in done if not row.pareto]
    front = sorted(row.values[:2] for row in done if row.pareto)
    if others:
        axis.scatter(*zip(*others), c="tab:gray", s=16, label="trial")
    if front:
        axis.plot(*zip(*front), c="tab:red", marker="o", label="Pareto front")
    for row in done:
        axis.annotate(str(row.number), row.values[:2], fontsize=7, xytext=(3, 3), textcoords="offset points")
    axis.set_xlabel(objectives[0])
    axis.set_ylabel(objectives[1])
    axis.set_title(f"{objectives[1]} vs {objectives[0]}")
    axis.grid(alpha=0.3)
    axis.legend()
    return save_figure(figure, plots_dir / "pareto_front.png")


def write_sweep_plots(rows, distributions: dict, objectives: list, maximize: list, sweep_dir) -> list:
    """`objectives`, `maximize`: one each per objective; the plots but the Pareto front's are the first's."""
    plots_dir = Path(sweep_dir) / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = [plot_objective_vs_param(rows, key, distribution, objectives[0], plots_dir)
             for key, distribution in distributions.items()]
    paths.append(plot_best_so_far(rows, objectives[0], maximize[0], plots_dir))
    if len(objectives) > 1:
        paths.append(plot_pareto_front(rows, objectives, plots_dir))
    return [path for path in paths if path is not None]
