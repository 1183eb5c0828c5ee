"""Compose the config tree with overrides (Hydra's compose API) and turn Hydra's
composition errors into one-line messages that name the key, the value and what is allowed."""

from __future__ import annotations

import copy
import difflib
import re

from dlrun.paths import config_dir
from dlrun.schema import ConfigError


def compose(overrides=(), return_hydra_config: bool = False):
    """The composed DictConfig; raises ConfigError on any composition problem."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides)
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError([explain_composition_error(error, overrides)]) from None


def without_hydra(cfg):
    """The experiment config alone (Hydra's own node dropped), resolved."""
    from omegaconf import OmegaConf, open_dict

    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))


def _known_keys(group: str, overrides) -> list:
    """Keys of a group's composed node, to list as the allowed ones."""
    try:
        cfg = compose([o for o in overrides if not o.split("=")[0].startswith(group + ".")])
    except ConfigError:
        return []
    node = cfg.get(group)
    return sorted(node.keys()) if hasattr(node, "keys") else []


def explain_composition_error(error, overrides) -> str:
    text = str(error)
    missing_option = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    if missing_option:
        group, option = missing_option.groups()
        available = re.findall(r"^\t(\S+)$", text, flags=re.M)
        return f"{group}={option}: no such {group} option; available: {', '.join(available)}"
    not_in_struct = re.search(r"Could not override '([^']+)'\.\s*To append", text)
    if not_in_struct:
        key = not_in_struct.group(1)
        value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key), "?")
        group = key.rsplit(".", 1)[0] if "." in key else ""
        known = _known_keys(group, overrides) if group else []
        allowed = f"; keys of {group}: {', '.join(known)}" if known else ""
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else f" (add it with +{key}={value} if it is meant to be new)"
        return f"{key}={value}: unknown key{allowed}{guess}"
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first_line
