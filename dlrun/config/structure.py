"""The config's shape, checked before its values: the nodes a run reads are mappings (not
`trainer=5`) and the knobs it reads unconditionally (declared `required`) are there (not
deleted with `~key`).
Option-specific knobs are their declarations' business (dlrun.config.validate's rules)."""

from __future__ import annotations

from dlrun.base.errors import shown
from dlrun.config.declarations import required_keys

NODES = ("model", "data", "optim", "optim.clip", "schedule", "init", "hardware", "logger", "loss", "trainer",
         "callbacks", "callbacks.checkpoint", "callbacks.early_stopping", "callbacks.averaging",
         "callbacks.gradient_noise", "callbacks.divergence", "callbacks.diagnostics")

def _find(cfg, dotted: str):
    """(True, value) or (False, the first missing part's dotted path)."""
    node, walked = cfg, []
    for part in dotted.split("."):
        walked.append(part)
        if not isinstance(node, dict) or part not in node:
            return False, ".".join(walked)
        node = node[part]
    return True, node


def structure_problems(cfg: dict) -> list:
    problems = []
    for key in NODES:
        present, value = _find(cfg, key)
        if present and not isinstance(value, dict):
            problems.append(f"{key}={shown(repr(value))}: expected a config node; set its knobs with {key}.KNOB=VALUE"
                            + (f" or choose an option with {key}=NAME" if "." not in key else ""))
    for key in NODES + required_keys():
        present, missing = _find(cfg, key)
        if not present and missing == key and not problems:
            problems.append(f"{key}: missing, and every run needs it (deleted with ~{key}?)")
    if not problems and "name" not in cfg["model"] and "_target_" not in cfg["model"]:
        problems.append("model.name: missing; a model config needs a name or a _target_ (your own class)")
    return problems
