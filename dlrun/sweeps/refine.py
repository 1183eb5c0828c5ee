"""Coarse -> fine: a narrower search space around a sweep's best trials, as a command.

For each searched parameter, the range its best trials span, widened by a margin (a
factor for log-scale parameters) and kept inside the original bounds; for a list of
options, the options the best trials used.
"""

from __future__ import annotations

import math

from dlrun.base.errors import BadInput
from dlrun.sweeps.space import override_value, parse_space
from dlrun.sweeps.study import sweep_record
from dlrun.sweeps.trials import sweep_command, trial_distributions, trial_rows

# The best quarter of the completed trials (at least two) shapes the new space.
TOP_FRACTION = 0.25
MIN_TOP = 2
# Margins around the best trials' span: a fraction of the span (at least of the old range)
# on a linear scale, a factor on a log scale.
LINEAR_MARGIN, MIN_LINEAR_MARGIN, LOG_FACTOR = 0.25, 0.05, 2.0


class RefineError(BadInput):
    """Too little to refine from; str() says why."""


def _round(value: float, up: bool) -> float:
    """Two significant digits, rounded outward (so the best values stay inside)."""
    if value == 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(abs(value))) - 1)
    return (math.ceil if up else math.floor)(value / scale) * scale


def _is_integer(distribution) -> bool:
    from optuna.distributions import IntDistribution

    return isinstance(distribution, IntDistribution)


def _numeric_range(values, distribution):
    low, high = min(values), max(values)
    if distribution.log:
        low, high = low / LOG_FACTOR, high * LOG_FACTOR
    else:
        margin = max((high - low) * LINEAR_MARGIN, (distribution.high - distribution.low) * MIN_LINEAR_MARGIN)
        low, high = low - margin, high + margin
    if _is_integer(distribution):
        low, high = math.floor(low), math.ceil(high)
    else:
        low, high = _round(low, up=False), _round(high, up=True)
    return max(low, distribution.low), min(high, distribution.high)


def _interval_text(low, high, distribution) -> str:
    integer = _is_integer(distribution)
    text = f"interval({low}, {high})" if integer else f"interval({low:g}, {high:g})"
    text = f"int({text})" if integer else text
    return f"tag(log, {text})" if distribution.log else text


def refined_param(key: str, text: str, top_rows, distribution) -> str | None:
    """The override for one parameter around the best trials' values; None for a knob that
    none of them took (an option's knob: the options kept do not take it)."""
    param = parse_space([f"{key}={text}"]).params[key]
    values = [row.params[key] for row in top_rows if key in row.params]
    if not values:
        return None
    if param.discrete:
        kept = [value for value in param.grid_values() if value in values]
        return f"{key}={','.join(override_value(value) for value in kept)}"
    low, high = _numeric_range(values, distribution)
    if low == high:
        return f"{key}={override_value(low)}"
    return f"{key}={_interval_text(low, high, distribution)}"


def refine_command(study, top: int = None) -> str:
    """`dlrun -m ...` searching around the best trials of `study`."""
    record = sweep_record(study)
    completed = [row for row in trial_rows(study) if row.status == "completed"]
    if len(completed) < MIN_TOP:
        raise RefineError(f"{len(completed)} completed trial(s): refining needs at least {MIN_TOP}")
    top = min(len(completed), top or max(MIN_TOP, math.ceil(len(completed) * TOP_FRACTION)))
    best = completed[:top]
    distributions = trial_distributions(study)
    params = [refined_param(key, text, best, distributions.get(key))
              for key, text in record.get("search_space", {}).items()]
    params = [param for param in params if param is not None]
    # a grid (no n_trials) stays a grid over the kept options
    size = [f"hydra.sweeper.n_trials={record['n_trials']}"] if record.get("n_trials") else []
    return sweep_command(record, space=params, extra=size)
