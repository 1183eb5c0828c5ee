"""Every knob a config may hold, declared once, and the rules validation derives from them.

The option groups (optim, schedule, init, model, data) are declared next to their factories;
the callbacks' and loggers' knobs next to theirs; the settings that belong to no option
(the run's name, seed and objective, the trainer, the loss, the hardware) here. The YAML
files under conf/ hold the defaults; tests/test_declarations.py holds each YAML to its
declaration. Standard library only: validation and `dlrun ls` must not import torch.
"""

from __future__ import annotations

from dlrun.base.options import Group, Knob
from dlrun.base.rules import (BOOLEAN, FRACTION_COUNT_OR_OFF, FRACTION_OR_COUNT, SEED_LIMIT, Rule, in_range,
                              integer, number, one_of, text)
from dlrun.callbacks.choices import CALLBACK_KNOBS
from dlrun.base.errors import shown
from dlrun.data.datasets import DATA
from dlrun.distributed.strategies import STRATEGIES
from dlrun.loggers.table import LOGGERS
from dlrun.models.zoo import MODEL
from dlrun.recipe.init_schemes import INIT
from dlrun.recipe.metrics import is_objective_setting, objective_allowed
from dlrun.recipe.optim import OPTIM
from dlrun.recipe.schedule import SCHEDULE

TOP_KNOBS = {
    "seed": Knob(integer(0, SEED_LIMIT - 1), "seeds Python, numpy and torch (the data split too, unless data.seed is set)", required=True),
    "name": Knob(Rule(lambda v: isinstance(v, str) and v != "" and "/" not in v, "a non-empty string without '/'"),
                 "the run folder's suffix and the tracker's run name", required=True),
    "objective": Knob(Rule(is_objective_setting, objective_allowed()),
                      "the metric that picks the best checkpoint and the sweep's objective; a list: a multi-objective "
                      "sweep (the first picks the checkpoint)", required=True),
}
TRAINER_KNOBS = {
    "max_epochs": Knob(integer(1), "epochs to train", required=True),
    "max_steps": Knob(Rule(lambda v: v == -1 or in_range(v, 1), "-1 (no limit) or an integer >= 1 (below 2**31)"),
                      "optimizer steps to train; -1: max_epochs decides", required=True),
    "limit_train_batches": Knob(FRACTION_OR_COUNT, "the part of each epoch's training batches used", required=True),
    "limit_val_batches": Knob(FRACTION_COUNT_OR_OFF, "the part of the validation batches used (0: no validation)",
                              required=True),
    "limit_test_batches": Knob(FRACTION_COUNT_OR_OFF, "the part of the test batches used (0: no test)", required=True),
    "val_check_interval": Knob(FRACTION_OR_COUNT, "validate after this fraction of an epoch, or this many batches",
                               required=True),
    "check_val_every_n_epoch": Knob(integer(1), "validate every n epochs", required=True),
    "log_every_n_steps": Knob(integer(1), "steps between logged training metrics", required=True),
    "progress_bar": Knob(BOOLEAN, "show progress bars", required=True),
    "profiler": Knob(Rule(lambda v: v in (None, "simple", "advanced", "pytorch"), "null (off), simple, advanced or pytorch"),
                     "Lightning's profiler; its report goes into the run folder"),
    "test_after_fit": Knob(BOOLEAN, "test the best checkpoint after training", required=True),
}
LOSS_KNOBS = {
    "label_smoothing": Knob(number(0, 1, high_open=True), "train on (1 - e) * one_hot + e / classes"),
}
HARDWARE_KNOBS = {
    "name": Knob(text("a non-empty name"), "the preset's name", required=True),
    "devices": Knob(Rule(lambda v: in_range(v, 1) or v == "auto", "an integer >= 1 or 'auto'"), "devices per node",
                    required=True),
    "precision": Knob(one_of(("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "64-true")), "numeric precision",
                      required=True),
    "deterministic": Knob(BOOLEAN, "deterministic algorithms only (slower, reproducible)"),
    "accelerator": Knob(one_of(("cpu", "gpu", "cuda", "mps", "auto")), "where to train", required=True),
    "num_nodes": Knob(integer(1), "machines"),
    "strategy": Knob(one_of(STRATEGIES), "how several devices train one run", required=True),
    "compile": Knob(BOOLEAN, "torch.compile the model"),
    "matmul_precision": Knob(one_of(("highest", "high", "medium")), "float32 matmul precision (TF32 on high)"),
    "timeout_s": Knob(number(0, low_open=True), "process-group timeout: a stuck rank fails instead of hanging"),
    "threads": Knob(Rule(lambda v: v is None or in_range(v, 1), "null (torch's default) or an integer >= 1"),
                    "CPU threads per process"),
}


def logger_knobs() -> dict:
    """{"wandb.mode": Knob, ...}: each logger's knobs under its node."""
    return {f"{name}.{key}": knob for name, entry in LOGGERS.items() for key, knob in entry.knobs.items()}


# {where in the config: {dotted key below it: Knob}}: the settings that are no choice
SETTINGS = {"": TOP_KNOBS, "trainer": TRAINER_KNOBS, "loss": LOSS_KNOBS, "hardware": HARDWARE_KNOBS,
            "callbacks": CALLBACK_KNOBS, "logger": logger_knobs()}
# the groups whose `name` picks an option
GROUPS = {group.key: group for group in (DATA, MODEL, OPTIM, SCHEDULE, INIT)}
# the order in which problems are listed
ORDER = ("", "trainer", "data", "model", "optim", "loss", "schedule", "init", "hardware", "callbacks", "logger")


def required_keys() -> tuple:
    """The dotted keys every run reads: the groups' names (a model's is checked on its own:
    it may be a user's `_target_` instead) and the knobs declared required."""
    keys = []
    for where in ORDER:
        knobs = GROUPS[where].knobs if where in GROUPS else SETTINGS[where]
        keys += [f"{where}.name"] if where in GROUPS and where != "model" else []
        keys += [_joined(where, key) for key, knob in knobs.items() if knob.required]
    return tuple(keys)


def find(cfg, dotted: str):
    """(True, value) at the dotted path, or (False, None)."""
    node = cfg
    for part in dotted.split(".") if dotted else ():
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _joined(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix and key else prefix or key


def group_rules(group: Group, node) -> list:
    """[(dotted key, Rule)] for a group's node: its name, every declared knob (a knob present
    in the node is checked whichever option declares it), the constraints of the group and of
    the chosen option."""
    rules = [(f"{group.key}.name", Rule(lambda v: v in group.options, "one of: " + ", ".join(group.options)))]
    rules = rules if group.checks_name else []
    rules += [(_joined(group.key, key), knob.rule) for key, knob in group.knobs.items()]
    chosen = group.options.get(node.get("name")) if isinstance(node, dict) else None
    constraints = group.constraints + (chosen.constraints if chosen else ())
    return rules + [(_joined(group.key, constraint.where), constraint.rule) for constraint in constraints]


def declared_rules(cfg: dict) -> list:
    """[(dotted key, Rule)] of everything declared, in ORDER."""
    rules = []
    for where in ORDER:
        if where in GROUPS:
            rules += group_rules(GROUPS[where], cfg.get(where))
        else:
            rules += [(_joined(where, key), knob.rule) for key, knob in SETTINGS[where].items()]
    return rules


def rule_problems(cfg: dict) -> list:
    """`key=value: expected ALLOWED` for every declared knob the config holds and breaks."""
    problems = []
    for key, rule in declared_rules(cfg):
        present, value = find(cfg, key)
        if present and not rule.check(value):
            problems.append(f"{key}={shown(repr(value))}: expected {rule.allowed}")
    return problems
