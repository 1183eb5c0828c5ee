"""Keys no knob declares: a typo added with `+` or `++` (`+model.widht=8`, `++nope.key=1`)
that Hydra takes and the run would silently ignore; and knobs an option reads that were
deleted (`~model.width`). Checked last, once the declared values
pass: every key of the config must be a declared knob, a node on the way to one, or a
user's code's own (a `_target_` model or data is checked against its signature instead)."""

from __future__ import annotations

import difflib

from dlrun.config.declarations import GROUPS, SETTINGS, TOP_KNOBS, declared_rules
from dlrun.loggers.table import LOGGERS

# Top-level nodes that are not knobs: their contents are checked where they are read.
FREE_NODES = ("experiment", "study")


def _declared(cfg: dict) -> set:
    known = {key for key, _ in declared_rules(cfg)}
    known |= {f"{group}.name" for group in GROUPS} | set(TOP_KNOBS)
    # a logger is switched with true/false/null (its value checked by logger_problems) or set by its knobs
    known |= {f"logger.{name}" for name in LOGGERS if not isinstance(cfg.get("logger", {}).get(name), dict)}
    return known


def _suggestion(path: str, known: set) -> str:
    parent = path.rpartition(".")[0]
    siblings = [key.rpartition(".")[2] for key in known if key.rpartition(".")[0] == parent]
    close = difflib.get_close_matches(path.rpartition(".")[2], siblings, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key_problems(cfg: dict) -> list:
    """`key: no such knob` for every key nothing declares (added with + or ++)."""
    known = _declared(cfg)
    prefixes = {key.rsplit(".", depth)[0] for key in known for depth in range(1, key.count(".") + 1)}
    problems = []

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if path in known or path.endswith("._target_"):
                continue
            is_node = path in prefixes or path in SETTINGS or path in GROUPS or (prefix == "logger" and key in LOGGERS)
            if isinstance(value, dict) and is_node:
                if path in GROUPS and "_target_" in value:
                    continue  # a user's model or data: its signature decides (dlrun.config.own_code)
                walk(value, path)
                continue
            if path.split(".")[0] in FREE_NODES:
                continue
            problems.append(f"{path}: no such knob; dlrun would ignore it (added with + or ++?)"
                            + _suggestion(path, known))

    walk(cfg, "")
    return problems


def missing_knob_problems(cfg: dict) -> list:
    """`key: missing` for every knob the chosen option of a group reads and the config lacks
    (deleted with `~model.width`): the run would stop with a KeyError after its folder exists."""
    from dlrun.config.declarations import find

    problems = []
    for where, group in GROUPS.items():
        node = cfg.get(where)
        if not isinstance(node, dict) or "_target_" in node or node.get("name") not in group.options:
            continue
        problems += [f"{where}.{knob}: missing, and {where}={node['name']} needs it (deleted with ~{where}.{knob}?)"
                     for knob in group.knobs_of(node["name"]) if not find(node, knob)[0]]
    return problems
