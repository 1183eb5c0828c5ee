"""A study's figures (Agg, files only): every run's curves overlaid, a per-layer profile of
one diagnostic at the start of training, a field against one swept key, and the best value
so far of each sweep when several are compared."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

from dlrun.report.curves import LOG_SCALE_KINDS, pyplot, save_figure
from dlrun.report.runs import format_value, run_label
from dlrun.report.seed_groups import SEED
from dlrun.report.settings import config_value, field_value
from dlrun.report.sweep_plots import axis_scale, numeric_values


def _colors(count: int) -> list:
    plt = pyplot()
    palette = plt.get_cmap("tab10" if count <= 10 else "tab20")
    return [palette(index % palette.N) for index in range(count)]


def _natural(name: str) -> list:
    """body.10 after body.2: numbers compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _legend_of_all(axes) -> None:
    """One legend, right of the last panel, for the lines of every panel (a run that
    stopped early may be missing from some)."""
    found = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            found.setdefault(label, handle)
    axes[-1].legend(list(found.values()), list(found), fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))


def plot_curves(runs, metrics, path: Path, group_seeds: bool = False):
    """One panel per metric, one line per run; None when no run has any of them. Losses
    and log-scale diagnostics spanning decades get a log axis. `group_seeds` (a study's
    report): one colour and legend entry per configuration; otherwise (dlrun compare) per run."""
    metrics = [metric for metric in metrics if any(run.history.series(metric) for run in runs)]
    if not metrics:
        return None
    plt = pyplot()
    figure, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), squeeze=False)
    labels = _configuration_labels(runs) if group_seeds else [run.label for run in runs]
    colors = dict(zip(dict.fromkeys(labels), _colors(len(set(labels)))))
    for axis, metric in zip(axes[0], metrics):
        values = []
        for run, label in zip(runs, labels):
            points = run.history.series(metric)
            if points:
                steps, ys = zip(*points)
                values += ys
                marker = "o" if metric.startswith("val/") else None
                axis.plot(steps, ys, color=colors[label], label=label, marker=marker, markersize=3, linewidth=1.3)
        if "loss" in metric or metric.split("/")[0] in LOG_SCALE_KINDS:
            axis.set_yscale(axis_scale(None, values))
        axis.set(xlabel="step", ylabel=metric, title=metric)
        axis.grid(alpha=0.3)
    _legend_of_all(list(axes[0]))
    return save_figure(figure, path)


def plot_population(runs, path: Path):
    """One figure for a population: its members' train and val curves overlaid, one line per
    member (`runs`: objects with .label and .history, a MetricHistory), in place of a figure per
    member (0.37 s each: most of a 16-member population's end-of-run work). None when empty."""
    names = {name for run in runs for name in run.history.metric_names()}
    return plot_curves(runs, sorted(name for name in names if name.split("/")[0] in ("train", "val")), path)


def _configuration_labels(runs) -> list:
    """Each run's legend label: its own, or its configuration's (`optim=sgd (3 seeds)`) when runs
    differ in seed, so that one configuration's seeds share a colour and a legend entry."""
    if not any(SEED in run.params for run in runs):
        return [run.label for run in runs]
    multi = len({run.sweep for run in runs}) > 1
    keys = [run_label({key: value for key, value in run.params.items() if key != SEED}, run.sweep if multi else None)
            or "all runs" for run in runs]
    counts = {key: keys.count(key) for key in keys}
    return [f"{key} ({counts[key]} seeds)" if counts[key] > 1 else key for key in keys]


def first_sampled(history, kind: str) -> tuple:
    """(step, {layer: value}) of a diagnostic kind at the first step it was sampled."""
    names = sorted((name for name in history.metric_names() if name.startswith(kind + "/")), key=_natural)
    series = {name.split("/", 1)[1]: history.series(name) for name in names}
    series = {layer: points for layer, points in series.items() if points}
    if not series:
        return None, {}
    step = min(points[0][0] for points in series.values())
    return step, {layer: dict(points)[step] for layer, points in series.items() if step in dict(points)}


def plot_layer_profile(runs, kind: str, path: Path, group_seeds: bool = False):
    """`kind` (act_std, grad_norm, ...) per layer, in network order, at the first sampled step
    (`group_seeds`: as plot_curves)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    drawn, values = False, []
    labels = _configuration_labels(runs) if group_seeds else [run.label for run in runs]
    colors = dict(zip(dict.fromkeys(labels), _colors(len(set(labels)))))
    for run, label in zip(runs, labels):
        _, layers = first_sampled(run.history, kind)
        if layers:
            drawn = True
            values += list(layers.values())
            axis.plot(range(1, len(layers) + 1), list(layers.values()), color=colors[label], marker="o", markersize=3,
                      label=label)
    if not drawn:
        plt.close(figure)
        return None
    if kind.split("/")[0] in LOG_SCALE_KINDS and all(value > 0 for value in values):
        axis.set_yscale("log")
    axis.set(xlabel="layer (input to output)", ylabel=kind, title=f"{kind} per layer at the first sampled step")
    axis.grid(alpha=0.3)
    _legend_of_all([axis])
    return save_figure(figure, path)


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def x_value(run, key: str):
    """A run's value of `key`: its swept parameter, else the resolved config's."""
    return run.params[key] if key in run.params else config_value(run.summary.get("config") or {}, key)


def _series(runs, key: str, by) -> dict:
    """{line label: [run]}: one line per sweep and combination of the `by` keys' values
    (None: every swept parameter but `key` and seed: a line's seeds are its error bars)."""
    multi = len({run.sweep for run in runs}) > 1
    lines: dict = {}
    for run in runs:
        keys = [name for name in run.params if name not in (key, SEED)] if by is None else by
        values = {name: x_value(run, name) for name in keys}
        label = run_label(values, run.sweep if multi else None) or "all runs"
        lines.setdefault(label, []).append(run)
    return lines


def _draw_line(axis, points, color, label) -> None:
    """A line through the mean at each x, with the sd over its runs (the seeds) as error bars and
    each run as a faint dot; a line of one run per x is a plain line."""
    by_x: dict = {}
    for x, y, others in points:
        by_x.setdefault(x, []).append((y, others))
    if any(len({others for _, others in runs}) > 1 for runs in by_x.values()):  # not seeds alone: no mean
        axis.plot([x for x, _, _ in points], [y for _, y, _ in points], color=color, marker="o", linestyle="none",
                  label=label)
        return
    by_x = {x: [y for y, _ in runs] for x, runs in by_x.items()}
    xs = sorted(by_x)
    means = [statistics.fmean(by_x[x]) for x in xs]
    if all(len(ys) == 1 for ys in by_x.values()):
        axis.plot(xs, means, color=color, marker="o", label=label)
        return
    sds = [statistics.stdev(by_x[x]) if len(by_x[x]) > 1 else 0.0 for x in xs]
    axis.errorbar(xs, means, yerr=sds, color=color, marker="o", capsize=3, label=f"{label} (mean ± sd)")
    axis.plot([x for x, _, _ in points], [y for _, y, _ in points], color=color, marker=".", linestyle="none",
              alpha=0.35)


def _others(run, key: str) -> str:
    """The run's swept values but `key` and seed: runs at one x that share them are one configuration's seeds."""
    return repr(sorted((name, value) for name, value in run.params.items() if name not in (key, SEED)))


def plot_versus(runs, key: str, fields, path: Path, by=None):
    """Each field against `key`, one line per combination of the other swept parameters but
    seed (or of `by`); several runs at one x (the seeds) are drawn as their mean ± sd."""
    xs = [x_value(run, key) for run in runs]
    if not fields or all(x is None for x in xs):
        return None
    numeric = numeric_values([x for x in xs if x is not None])
    order = sorted({format_value(x) for x in xs if x is not None}) if not numeric else None
    plt = pyplot()
    figure, axes = plt.subplots(1, len(fields), figsize=(5.2 * len(fields), 4.2), squeeze=False)
    lines = _series(runs, key, by)
    for axis, name in zip(axes[0], fields):
        for (label, members), color in zip(lines.items(), _colors(len(lines))):
            points = [(x_value(run, key), field_value(run.summary, run.history, name), _others(run, key))
                      for run in members]
            points = sorted((x if numeric else order.index(format_value(x)), y, others) for x, y, others in points
                            if x is not None and _finite_number(y))
            if points:
                _draw_line(axis, points, color, label)
        if numeric:
            axis.set_xscale(axis_scale(None, [x for x in xs if x is not None]))
        else:
            axis.set_xticks(range(len(order)), order)
        axis.set(xlabel=key, ylabel=name, title=f"{name} vs {key}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return save_figure(figure, path)


def plot_best_so_far(sweeps, path: Path):
    """Each sweep's best objective so far against its trial count: which search finds more."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for sweep, color in zip(sweeps, _colors(len(sweeps))):
        pick = max if sweep.direction == "maximize" else min
        best, points = None, []
        for count, run in enumerate(sweep.runs, start=1):
            value = field_value(run.summary, run.history, "objective") if run.status == "completed" else None
            if value is not None:
                best = value if best is None else pick(best, value)
            if best is not None:
                points.append((count, best))
        if points:
            axis.step(*zip(*points), where="post", color=color, label=sweep.name, marker="o", markersize=3)
    objective = sweeps[0].record.get("objective", "objective")
    axis.set(xlabel="trials run", ylabel=f"best {objective}", title=f"best {objective} so far")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return save_figure(figure, path)
