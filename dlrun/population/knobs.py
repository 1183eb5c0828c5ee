"""Which trials can train together: those whose configs differ only in knobs a population
varies per member. Each member has its own network (init scheme, scale and dropout),
optimizer parameter groups (lr, weight decay, momentum, betas, ...), lr schedule (any formula
schedule and its knobs) and label smoothing; everything else (model shape, data, seed, batch
size, trainer length, the optimizer, the schedule's interval) is shared, so it splits the
population.

`seed` may differ: it draws each member's initial weights. The data split and batch order
follow `data.seed` (default `${seed}`), which is shared: `seed=0,1,2 data.seed=0` is one
population of three initialisations on one split; `seed=0,1,2` alone is three populations.
"""

from __future__ import annotations

from dlrun.loggers.table import flat_config

# dotted keys (and key prefixes, ending in ".") that may differ inside one population
MEMBER_KNOBS = (
    "optim.lr", "optim.weight_decay", "optim.momentum", "optim.dampening", "optim.betas", "optim.eps",
    "optim.alpha", "optim.lr_decay", "optim.initial_accumulator_value",
    "init.",  # init scheme and scale: each member's network is built and initialised alone
    "loss.label_smoothing", "model.dropout",
    "schedule.",  # schedule and its knobs: one lr factor per member (the interval is shared, plateau runs alone)
    "seed",  # each member's init (and its network's) from its own seed; the data split and batch order follow data.seed
    "logger.",  # tracker run names differ per trial; each member gets its own runs (dlrun.population.members)
)
SHARED_SCHEDULE_KEYS = ("schedule.interval",)
NOT_A_FORMULA = "plateau"  # reacts to a metric through Lightning, not a formula of the step: not per member here


def is_member_knob(key: str) -> bool:
    if key in SHARED_SCHEDULE_KEYS:
        return False
    return any(key == knob or (knob.endswith(".") and key.startswith(knob)) for knob in MEMBER_KNOBS)


def shared_part(config: dict) -> tuple:
    """What every member of one population must share: the config without its member knobs."""
    return tuple(sorted((key, repr(value)) for key, value in flat_config(config).items() if not is_member_knob(key)))


def why_alone(config: dict) -> str | None:
    """Why this trial cannot be a population member (it then runs as a normal single run), or None."""
    hardware, callbacks = config["hardware"], config["callbacks"]
    reasons = [
        (hardware.get("devices") not in (1, "1") or hardware.get("num_nodes", 1) != 1, "several devices or nodes"),
        (str(hardware.get("strategy")) not in ("auto", "None"), f"hardware.strategy={hardware.get('strategy')}"),
        (bool(hardware.get("compile")), "hardware.compile=true"),
        (config["schedule"]["name"] == NOT_A_FORMULA, "schedule=plateau"),
        (callbacks["early_stopping"]["enabled"], "early stopping"),
        (callbacks["averaging"]["name"] != "none", f"callbacks.averaging.name={callbacks['averaging']['name']}"),
        (callbacks["gradient_noise"]["enabled"], "gradient noise"),
        (any(callbacks["diagnostics"].get(name) for name in ("grad_norm", "update_ratio", "activations")),
         "diagnostics"),
    ]
    found = [text for bad, text in reasons if bad]
    return ", ".join(found) if found else None


def group_members(configs: dict) -> list:
    """[[trial key, ...], ...]: trials that can train together, in order of first appearance.
    `configs`: {trial key: plain resolved config} of trials that may be members."""
    groups: dict = {}
    for key, config in configs.items():
        groups.setdefault(shared_part(config), []).append(key)
    return list(groups.values())


def differing_keys(configs: list) -> list:
    """The shared keys that differ between two populations' configs (for the one line that says why they split)."""
    flats = [dict(shared_part(config)) for config in configs]
    keys = sorted({key for flat in flats for key in flat})
    return [key for key in keys if len({flat.get(key) for flat in flats}) > 1]


def member_labels(configs: list) -> list:
    """Per member, its member knobs that differ inside the population ("optim.lr=0.01 seed=1"),
    the line that tells its curve from the others'; tracker names (logger.*) left out."""
    flats = [{key: value for key, value in flat_config(config).items()
              if is_member_knob(key) and not key.startswith("logger.")} for config in configs]
    keys = sorted({key for flat in flats for key in flat})
    keys = [key for key in keys if len({repr(flat.get(key)) for flat in flats}) > 1]
    return [" ".join(f"{key}={_short(flat.get(key))}" for key in keys) for flat in flats]


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
