"""A finished (or stopped) run folder as the start of a new command: its saved config
with command-line overrides on top, its summary, and logging into its run.log.

Overrides use Hydra's grammar. `key=value` changes a key of the saved config (`+key=value`
adds one); `group=option` (data=moons, optim/clip=norm) replaces that group's node with
the option as the config tree composes it. The result is validated like a new run.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from dlrun.base.errors import BadInput, ConfigError
from dlrun.training.console import attach_run_log, detach
from dlrun.training.summary import SUMMARY_FILE, load_summary_file
from dlrun.config.validate import validated

SAVED_CONFIG = Path(".hydra") / "config.yaml"


class UsageError(BadInput):
    """A command line that names no run folder, or a folder that is not a run."""


def split_arguments(args, usage: str, options=()):
    """(run folder, {option: value} for `option=value` arguments named in `options`, overrides)."""
    if not args or "=" in args[0] or args[0].startswith("-"):
        raise UsageError(usage)
    run_dir = Path(args[0])
    if (run_dir / SUMMARY_FILE).is_file():
        load_summary_file(run_dir / SUMMARY_FILE)  # a damaged one is named first, in one line
    if not (run_dir / SAVED_CONFIG).is_file() and _config_in_summary(run_dir) is None:
        raise UsageError(f"{run_dir}: not a dlrun run folder (no {SAVED_CONFIG})")
    chosen, overrides = {}, []
    for arg in args[1:]:
        key, _, value = arg.partition("=")
        if key in options:
            chosen[key] = value
        else:
            overrides.append(arg)
    return run_dir, chosen, overrides


def _group_nodes(parsed) -> dict:
    """{node path: composed node} for the `group=option` overrides among `parsed`."""
    from omegaconf import OmegaConf

    from dlrun.config.catalogue import groups
    from dlrun.config.compose import compose, without_hydra

    known = groups()
    chosen = [override for override in parsed if override.key_or_group in known and not override.is_add()]
    if not chosen:
        return {}
    composed = without_hydra(compose([override.input_line for override in chosen]))
    paths = [override.key_or_group.replace("/", ".") for override in chosen]
    return {path: OmegaConf.select(composed, path) for path in paths}


def apply_overrides(cfg, overrides):
    """The config with Hydra-style overrides applied; ConfigError names the bad one."""
    from omegaconf import OmegaConf

    from dlrun.config.overrides import parse_overrides

    parsed = parse_overrides(list(overrides), multirun=True)  # a sweep is refused below, in these words
    hydra_settings = [o.input_line for o in parsed if o.key_or_group.split("/")[0].split(".")[0] == "hydra"]
    if hydra_settings:
        raise ConfigError([f"{line}: Hydra's own settings do not apply to a saved run" for line in hydra_settings])
    nodes = _group_nodes(parsed)
    for path, node in nodes.items():
        OmegaConf.update(cfg, path, node, merge=False)
    for override in parsed:
        key = override.key_or_group
        if key.replace("/", ".") in nodes:
            continue
        if override.is_delete() or override.is_sweep_override():
            raise ConfigError([f"{override.input_line}: only key=value, +key=value and group=option apply here"])
        if not override.is_add() and OmegaConf.select(cfg, key, default=KeyError) is KeyError:
            raise ConfigError([f"{override.input_line}: unknown key {key!r} in the saved config "
                               f"(add a new one with +{key}=...)"])
        OmegaConf.update(cfg, key, override.value(), merge=False, force_add=True)
    return cfg


def _config_in_summary(run_dir):
    """The config a run folder's first summary.json holds (a run killed before Hydra wrote
    .hydra/), or None."""
    import json

    try:
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    config = summary.get("config") if isinstance(summary, dict) else None
    return config if isinstance(config, dict) and config else None


def _saved_config(run_dir):
    """The run's saved config: .hydra/config.yaml, else the one in its summary.json;
    UsageError in one line when the file is not a config (truncated, not YAML, a list)."""
    from omegaconf import DictConfig, OmegaConf

    path = Path(run_dir) / SAVED_CONFIG
    if not path.is_file():
        return OmegaConf.create(_config_in_summary(run_dir))
    try:
        saved = OmegaConf.load(path)
        if not isinstance(saved, DictConfig):
            raise ValueError(f"it holds a {type(OmegaConf.to_container(saved)).__name__}, not a mapping of keys")
        return OmegaConf.create(OmegaConf.to_container(saved, resolve=True))  # the run's own name, not a new one
    except Exception as error:  # YAML syntax, interpolation, encoding: the file is not the config dlrun wrote
        reason = " ".join(str(error).split())[:200]
        raise UsageError(f"{path}: not a readable run config ({reason}); the run folder is damaged") from None


def load_run_config(run_dir, overrides=()):
    """The run's saved, resolved config with `overrides` applied, validated."""
    return validated(apply_overrides(_saved_config(run_dir), overrides))


def save_config(cfg, run_dir, overrides) -> None:
    """The folder's config is the one it now trains with; the overrides join the list."""
    from omegaconf import OmegaConf

    hydra_dir = Path(run_dir) / SAVED_CONFIG.parent
    hydra_dir.mkdir(exist_ok=True)  # a run killed before Hydra wrote it
    OmegaConf.save(cfg, hydra_dir / "config.yaml")
    listed = hydra_dir / "overrides.yaml"
    previous = list(OmegaConf.load(listed)) if listed.is_file() else []
    OmegaConf.save(OmegaConf.create(previous + list(overrides)), listed)


@contextmanager
def logging_to(run_dir):
    """Console and the run folder's run.log (appended), as a training run logs, while inside."""
    root = logging.getLogger()
    level = root.level
    handlers = attach_run_log(run_dir, console=sys.stdout)
    try:
        yield
    finally:
        detach(handlers)
        root.setLevel(level)

