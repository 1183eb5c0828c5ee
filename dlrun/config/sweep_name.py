"""A sweep folder named by what is swept: `${dlrun.config.sweep_name:...}` in hydra.sweep.dir.

    dlrun -m model=cnn,resnet                   -> <time>_cnn-resnet_digits
    dlrun -m optim.lr='tag(log, interval(...))' -> <time>_mlp_digits_lr
    dlrun -m sweep=lr optim=adamw               -> <time>_mlp_digits_lr      (a preset's params count too)
    dlrun -m +experiment=init_depth             -> <time>_init_depth         (the experiment's name)

Hydra composes a sweep's own config without its swept values, so `${name}` alone would name
every sweep after the default model and data. Each trial resolves hydra.sweep.dir again from
its own overrides; the resolver is cached on its arguments' text, and Hydra copies the sweep's
cache into every trial's config, so the trials land in the folder the sweep named.

The resolver is registered by SweepNameResolver, a Hydra callback (hydra.callbacks in
conf/config.yaml): Hydra makes its callbacks before the sweeper resolves hydra.sweep.dir, and
hands the registered resolvers to launcher workers (joblib, submitit) with its own state.
"""

from __future__ import annotations

import re

from hydra.experimental.callback import Callback

RESOLVER = "dlrun.config.sweep_name"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LENGTH = 80


def register_sweep_name() -> None:
    """Make `${dlrun.config.sweep_name:...}` resolvable (idempotent): call it before Hydra resolves hydra.sweep.dir."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, sweep_name, use_cache=True)


class SweepNameResolver(Callback):
    """Registers the resolver when Hydra makes its callbacks (a run's and a sweep's alike)."""

    def __init__(self) -> None:
        register_sweep_name()


def _label(override) -> str:
    """A group's swept options joined by '-' (cnn-resnet); a swept key's last part (lr)."""
    key = override.key_or_group
    if "." not in key and override.is_choice_sweep():
        try:
            return "-".join(str(option) for option in override.sweep_string_iterator())
        except Exception:  # glob(...) needs Hydra's config loader: name it by its group
            return key
    return key.rsplit(".", 1)[-1]


def _parse(texts) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(texts))


def sweep_name(task_overrides, sweeper_params, name: str, model: str, data: str) -> str:
    """`name` when the command line sets it or picks an experiment (which names itself), or
    when nothing is swept; else MODEL_DATA[_KEY...] with the swept choices in place."""
    given = _parse(task_overrides or [])
    preset = _parse(f"{key}={value}" for key, value in (sweeper_params or {}).items())
    swept = {}  # key -> label; the command line first, then the sweeper's params (a preset's)
    for override in given + preset:
        if override.is_sweep_override() and not override.key_or_group.startswith("hydra"):
            swept.setdefault(override.key_or_group, _label(override))
    if {"name", "experiment"} & {override.key_or_group for override in given} or not swept:
        return name
    parts = [swept.pop("model", model), swept.pop("data", data), *dict.fromkeys(swept.values())]
    return _UNSAFE.sub("-", "_".join(str(part) for part in parts))[:MAX_LENGTH]
