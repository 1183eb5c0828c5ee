"""What a study's report shows: the `study:` block of its experiment config (found in the
runs' summary.json), checked, with defaults for a sweep that has none.

    study:
      claim: the sentence the study tests
      curves: [train/loss, val/acc]         metrics overlaid, one line per run
      table: [final.train/loss, test.test/acc]   columns, as fields (below)
      layers: act_std                       per-layer profile at the first sampled step
      x: model.depth                        fields in `versus` plotted against this key,
      versus: [tail.train/loss]             one line per value of the other swept keys
      by: [model.norm]                      ... or of these keys only ([]: one line per sweep)

A field is `SECTION.METRIC` of summary.json (final, best, test: `test.test/acc`),
`objective` (the sweep objective's best value), `tail.METRIC` (the mean of a curve's last
points: a training loss without one batch's noise), `config.KEY` (the run's resolved
config: `config.optim.lr`), or a top-level number (wall_time_s).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlrun.base.errors import BadInput

SUMMARY_SECTIONS = ("final", "best", "test")
TOP_LEVEL_FIELDS = ("objective", "wall_time_s", "global_step", "epochs")
TAIL = "tail"
CONFIG = "config"
TAIL_POINTS = 5
KNOWN_KEYS = ("claim", "curves", "table", "layers", "x", "versus", "by")


class ReportError(BadInput):
    """A report that cannot be written; str() names the key, the value and what is allowed."""


@dataclass(frozen=True)
class StudySettings:
    claim: str | None
    curves: tuple
    table: tuple
    layers: str | None
    x: str | None
    versus: tuple
    by: tuple | None  # keys whose values make the lines of the versus plot; None: the other swept keys


def field_value(summary: dict, history, name: str):
    """One table field of a run (None when the run has no such value)."""
    section, _, metric = name.partition(".")
    if section == "objective" and not metric:
        return (summary.get("objective") or {}).get("value")
    if section in SUMMARY_SECTIONS:
        return (summary.get(section) or {}).get(metric)
    if section == CONFIG:
        return config_value(summary.get("config") or {}, metric)
    if section == TAIL:
        points = [value for _, value in history.series(metric)][-TAIL_POINTS:]
        return sum(points) / len(points) if points else None
    return summary.get(name)


def config_value(config: dict, key: str):
    """A dotted key's value in a resolved config (None when absent)."""
    node = config
    for part in key.lstrip("+").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def check_field(name: str) -> None:
    section, _, metric = name.partition(".")
    if (section in SUMMARY_SECTIONS + (TAIL, CONFIG) and metric) or name in TOP_LEVEL_FIELDS:
        return
    raise ReportError(f"study field {name!r}: expected SECTION.METRIC with SECTION one of "
                      f"{', '.join(SUMMARY_SECTIONS + (TAIL, CONFIG))} (test.test/acc, tail.train/loss, "
                      f"config.optim.lr), or one of {', '.join(TOP_LEVEL_FIELDS)}")


def _names(block: dict, key: str) -> tuple:
    value = block.get(key) or ()
    if isinstance(value, str):
        value = (value,)
    if not all(isinstance(item, str) for item in value):
        raise ReportError(f"study.{key}={value!r}: expected a list of names")
    return tuple(value)


def _default_curves(metric_names) -> tuple:
    wanted = ("train/loss", "val/loss", "val/acc", "val/mae")
    return tuple(name for name in wanted if name in metric_names)


def _default_table(metric_names) -> tuple:
    fields = ["objective", "tail.train/loss"]
    fields += [f"test.test/{metric}" for metric in ("acc", "mae") if f"val/{metric}" in metric_names]
    return tuple(fields)


def study_settings(block, metric_names) -> StudySettings:
    """Settings from a `study:` block (None or {} for the defaults) and the runs' metric names."""
    block = dict(block or {})
    unknown = sorted(set(block) - set(KNOWN_KEYS))
    if unknown:
        raise ReportError(f"study.{unknown[0]}: unknown key; keys of study: {', '.join(KNOWN_KEYS)}")
    table = _names(block, "table") or _default_table(metric_names)
    versus = _names(block, "versus") or (("objective",) if block.get("x") else ())
    for name in table + versus:
        check_field(name)
    return StudySettings(claim=block.get("claim"), curves=_names(block, "curves") or _default_curves(metric_names),
                         table=table, layers=block.get("layers"), x=block.get("x"), versus=versus,
                         by=None if block.get("by") is None else _names(block, "by"))
