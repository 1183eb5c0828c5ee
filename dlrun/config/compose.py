"""Compose the config tree with overrides (Hydra's config loader, searching the same folders
the `dlrun` app does, --config-dir / -cp / -cn included) and turn Hydra's composition errors
into one-line messages that name the key, the value and what is allowed."""

from __future__ import annotations

import difflib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from dlrun.base.errors import ConfigError
from dlrun.base.hydra_private import error_says, options_listed
from dlrun.base.paths import config_dir


@dataclass(frozen=True)
class ConfigSource:
    """Where configs come from, as Hydra's flags say: the primary folder (-cp, relative to
    dlrun's package as Hydra reads it), the root config's name (-cn) and one extra folder
    searched after the primary one (--config-dir, relative to the working folder)."""

    config_path: Optional[str] = None
    config_name: str = "config"
    extra_dir: Optional[str] = None

    def primary(self) -> str:
        if self.config_path is None:
            return str(config_dir())
        from dlrun.base.hydra_private import primary_config_dir

        app_file = Path(__file__).resolve().parent.parent / "cli" / "app.py"  # the file declaring @hydra.main
        return primary_config_dir(app_file, self.config_path)

    def folders(self) -> list:
        """The folders to list options from: the primary one, then --config-dir's."""
        return [Path(self.primary())] + ([Path(self.extra_dir).absolute()] if self.extra_dir else [])

    def problems(self) -> list:
        primary = self.primary()
        if not primary.startswith("pkg://") and not Path(primary).is_dir():
            return [f"--config-path={self.config_path}: no such folder {primary} (a relative path is read from "
                    f"dlrun's package folder, as Hydra does: give an absolute path)"]
        if self.extra_dir and not Path(self.extra_dir).is_dir():
            return [f"--config-dir={self.extra_dir}: no such folder"]
        return []


DLRUN_CONFIGS = ConfigSource()


@contextmanager
def hydra_for(source: ConfigSource):
    """Hydra set up as the `dlrun` app sets it up, for the time of the block."""
    from dlrun.base.hydra_private import app_hydra
    from dlrun.config.option_name import register_option_name
    from dlrun.config.sweep_name import register_sweep_name

    register_sweep_name()  # conf/config.yaml's hydra.sweep.dir uses ${dlrun.config.sweep_name:...}
    register_option_name()  # conf/option_names.yaml uses ${dlrun.config.option_name:...}
    problems = source.problems()
    if problems:
        raise ConfigError(problems)
    with app_hydra(source.primary(), source.extra_dir) as hydra:
        yield hydra


def compose(overrides=(), return_hydra_config: bool = False, source: ConfigSource = DLRUN_CONFIGS,
            multirun: bool = False):
    """The composed DictConfig; raises ConfigError on any syntax or composition problem.
    With multirun, sweep overrides are allowed and left out (as Hydra composes a sweep)."""
    import yaml
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf import open_dict
    from omegaconf.errors import OmegaConfBaseException

    from dlrun.config.option_name import name_options
    from dlrun.config.overrides import parse_overrides

    overrides = list(overrides)
    parse_overrides(overrides, multirun=multirun)
    problems = option_file_problems(overrides, source)
    if problems:
        raise ConfigError(problems)
    try:
        with hydra_for(source) as hydra:
            cfg = hydra.compose_config(source.config_name, overrides, RunMode.MULTIRUN if multirun else RunMode.RUN,
                                       from_shell=False)
    except yaml.YAMLError as error:
        raise ConfigError([yaml_problem(error)]) from None
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError([explain_composition_error(error, overrides, source, multirun)]) from None
    except OSError as error:  # OmegaConf.load of a file holding a scalar: "Invalid loaded object type: int"
        raise ConfigError([f"a config file it selects is not `key: value` lines ({error}); each option file "
                           "must hold a mapping"]) from None
    if not return_hydra_config:
        name_options(cfg)  # read from the hydra node, about to go
        with open_dict(cfg):
            cfg.pop("hydra", None)
    return cfg


def option_file_problems(overrides, source: ConfigSource) -> list:
    """`group=option` choices whose YAML file holds a scalar or a list instead of `key: value`
    lines, named with the file (Hydra's own error names neither)."""
    import yaml

    problems = []
    for override in overrides:
        key, _, value = override.lstrip("+").partition("=")
        if not value or "." in key or key.startswith("~") or not re.fullmatch(r"[\w/@]+", key):
            continue
        for option in value.split(","):
            for folder in source.folders():
                path = Path(str(folder)) / key.split("@")[0] / f"{option.strip()}.yaml"
                try:
                    content = yaml.safe_load(path.read_text()) if path.is_file() else None
                except (OSError, yaml.YAMLError):  # a YAML error is reported by composition, with its line
                    continue
                if content is not None and not isinstance(content, dict):
                    problems.append(f"{key}={option}: {path} holds the {type(content).__name__} {str(content)[:40]}, "
                                    "not `key: value` lines: an option file must be a mapping")
    return problems


def plain_config(cfg) -> dict:
    """The experiment config alone (Hydra's own node left out), resolved, as plain dicts and
    lists; ConfigError names a key whose ${...} cannot be resolved. Nothing is copied first:
    each node is resolved where it is (its interpolations see the whole tree)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(cfg, dict):
        return cfg
    plain = {}
    try:
        for key in cfg:
            if key != "hydra":
                value = cfg[key]
                plain[key] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except OmegaConfBaseException as error:
        raise ConfigError([resolution_problem(error)]) from None
    return plain


def without_hydra(cfg):
    """plain_config as a DictConfig: what a run reads."""
    from omegaconf import OmegaConf

    return OmegaConf.create(plain_config(cfg))


def resolution_problem(error) -> str:
    """`key: what is wrong` for an interpolation that does not resolve."""
    from dlrun.base.errors import shown

    key = getattr(error, "full_key", None) or "?"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{key}: {shown(reason) if len(reason) > 200 else reason}"


def yaml_problem(error) -> str:
    """`FILE:LINE:COLUMN: what YAML expected` for a malformed config file."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}" if mark else "a config file"
    what = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    context = getattr(error, "context", None)
    return f"{where}: not valid YAML: {what}" + (f" ({context})" if context else "")


def _known_keys(group: str, overrides, source: ConfigSource, multirun: bool) -> list:
    """Keys of a group's composed node, to list as the allowed ones."""
    try:
        cfg = compose([o for o in overrides if not o.split("=")[0].startswith(group + ".")], source=source,
                      multirun=multirun)
    except ConfigError:
        return []
    node = cfg.get(group)
    return sorted(node.keys()) if hasattr(node, "keys") else []


def _value_of(key: str, overrides) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.lstrip("+~").split("=", 1)[0] == key), "...")


def _defaults_list_problem(text: str, overrides):
    """Overrides of Hydra's defaults list and +/~ prefixes used the wrong way round."""
    unlisted = error_says("not_in_defaults", text)
    if unlisted:
        key = unlisted.group(1)
        return f"{key}={_value_of(key, overrides)}: {key} is not in the defaults list; add it with +{key}=..."
    taken = error_says("already_there", text)
    if taken:
        key = taken.group(1)
        return f"+{key}={_value_of(key, overrides)}: {key} is already set; drop the + ({key}=...)"
    absent = error_says("nothing_to_delete", text)
    if absent:
        return f"~{absent.group(1)}: no such key to delete"
    twice = error_says("chosen_twice", text)
    if twice:
        group = twice.group(1)
        return f"+{group}={_value_of(group, overrides)}: {group} is already chosen; drop the + ({group}=...)"
    return None


def _missing_config(text: str, source: ConfigSource):
    primary = error_says("no_primary_config", text)
    if primary:
        return (f"--config-name={primary.group(1)}: no such config in "
                f"{', '.join(str(folder) for folder in source.folders())}")
    if error_says("no_primary_folder", text):
        return f"--config-path={source.config_path}: no such folder"
    return None


def explain_composition_error(error, overrides, source: ConfigSource = DLRUN_CONFIGS, multirun: bool = False) -> str:
    text = str(error)
    missing_option = error_says("no_such_option", text)
    if missing_option:
        group, option = missing_option.groups()
        available = options_listed(text)
        return f"{group}={option}: no such {group} option; available: {', '.join(available)}"
    not_in_struct = error_says("not_in_struct", text)
    if not_in_struct:
        key = not_in_struct.group(1)
        value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key), "?")
        group = key.rsplit(".", 1)[0] if "." in key else ""
        known = _known_keys(group, overrides, source, multirun) if group else []
        allowed = f"; keys of {group}: {', '.join(known)}" if known else ""
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else f" (add it with +{key}={value} if it is meant to be new)"
        return f"{key}={value}: unknown key{allowed}{guess}"
    missing = _missing_config(text, source) or _defaults_list_problem(text, overrides)
    if missing:
        return missing
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first_line
