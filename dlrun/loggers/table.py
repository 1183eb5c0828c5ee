"""The logger table: name -> how a run's logger is built and how its run is closed.

`cfg.logger` holds one node per logger a run writes to (`csv`, `wandb`, `tensorboard`,
`mlflow`), each from its own conf/logger/NAME.yaml; several at once compose as a list
(`logger=[csv,tensorboard,mlflow]`) or a file whose defaults name them (csv_wandb.yaml).
A new logger is one entry here, its module and its YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from dlrun.base.errors import ConfigError, shown
from dlrun.base.options import Knob, load_object, unknown_name_message
from dlrun.base.rules import STRING_MAP, Rule, optional_text, string_list, text


@dataclass(frozen=True)
class LoggerEntry:
    build: str  # "module:function"; function(cfg, run_dir) -> a Lightning Logger
    # "module:function"; function(trainer, summary) -> what summary.json keeps of it (or None)
    finish: Optional[str] = None
    package: Optional[str] = None  # what it needs beyond dlrun's dependencies (an optional extra)
    knobs: Mapping[str, Knob] = field(default_factory=dict)  # its node's knobs (defaults: conf/logger/NAME.yaml)


_RUN_NAME = Knob(optional_text("null or a run name"), "null: the run's name (in a sweep: NAME-TRIAL)")
_GROUP = Knob(optional_text("null or a group name"), "null: in a sweep, the sweep folder's name")
WANDB_KNOBS = {
    "project": Knob(text("a W&B project name"), "the W&B project"),
    "entity": Knob(optional_text("null or a W&B entity"), "null: your default W&B entity"),
    "name": _RUN_NAME,
    "group": _GROUP,
    "tags": Knob(string_list("a list of tag strings, e.g. [baseline, lr-study]"), "the run's tags"),
    "job_type": Knob(text("a job type, e.g. train"), "W&B's job type"),
    "mode": Knob(Rule(lambda v: v in (None, "online", "offline", "disabled"),
                      "null (WANDB_MODE, else online with credentials), online, offline or disabled"),
                 "online, offline or disabled; null: WANDB_MODE, else online with credentials"),
}
# The tracking URI schemes MLflow's stores take (a plain path is a file store).
MLFLOW_SCHEMES = ("file", "sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks", "databricks-uc")


def _creatable(path: Path) -> bool:
    """Whether `path` is a folder, or one that can be made: its first existing ancestor is a folder."""
    for ancestor in (path, *path.parents):
        if ancestor.exists():
            return ancestor.is_dir()
    return True


def _usable_tracking_uri(uri) -> bool:
    """An MLflow tracking URI a run can use, checked without importing mlflow or reaching a server."""
    from urllib.parse import urlparse

    if not isinstance(uri, str) or not uri.strip():
        return False
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()  # postgresql+psycopg2://
    if len(scheme) <= 1:  # a plain path (C: on Windows): a file store folder
        return _creatable(Path(uri).expanduser())
    if scheme not in MLFLOW_SCHEMES:
        return False
    if scheme == "file":
        return _creatable(Path(parsed.path))
    if scheme == "sqlite":
        database = uri.split("sqlite:///", 1)[1] if uri.startswith("sqlite:///") else ""
        return bool(database) and _creatable(Path(database).parent)
    return scheme.startswith("databricks") or bool(parsed.hostname)


MLFLOW_KNOBS = {
    "tracking_uri": Knob(Rule(lambda v: v is None or _usable_tracking_uri(v),
                              "null, a folder, file:PATH, sqlite:///FILE, http(s)://HOST[:PORT] or a database URL "
                              "(postgresql://, mysql://, ...) whose folder can be created"),
                         "null: sqlite:///outputs/mlflow.db; or http://HOST:5000"),
    "experiment": Knob(text("an MLflow experiment name"), "the experiment the runs belong to (created if missing)"),
    "name": _RUN_NAME,
    "group": _GROUP,
    "tags": Knob(STRING_MAP, "extra run tags"),
}

LOGGERS: dict[str, LoggerEntry] = {
    "csv": LoggerEntry("dlrun.loggers.csv_logger:csv_logger"),
    "wandb": LoggerEntry("dlrun.loggers.wandb_logger:wandb_logger", "dlrun.loggers.wandb_logger:finish_wandb",
                         knobs=WANDB_KNOBS),
    "tensorboard": LoggerEntry("dlrun.loggers.tensorboard_logger:tensorboard_logger",
                               "dlrun.loggers.tensorboard_logger:finish_tensorboard", package="tensorboard",
                               knobs={"name": _RUN_NAME}),
    "mlflow": LoggerEntry("dlrun.loggers.mlflow_logger:mlflow_logger", "dlrun.loggers.mlflow_logger:finish_mlflow",
                          package="mlflow", knobs=MLFLOW_KNOBS),
}


def chosen_loggers(cfg_logger) -> list:
    """The names of the loggers a config turns on (a node, or `true`; `false`/null: off)."""
    return [name for name in LOGGERS if cfg_logger.get(name) not in (None, False)]


def logger_problems(cfg_logger) -> list:
    """Loggers that do not exist or whose package is not installed (standard library only)."""
    import importlib.util

    problems = [f"logger.{name}: {unknown_name_message('logger', name, LOGGERS)}"
                for name in cfg_logger if name not in LOGGERS]
    problems += [f"logger.{name}={shown(repr(value))}: expected true, false, null or a node of its knobs "
                 f"(logger.{name}.KNOB=...)" for name, value in cfg_logger.items()
                 if name in LOGGERS and not (value in (True, False, None) or isinstance(value, Mapping))]  # DictConfig too
    for name in chosen_loggers(cfg_logger):
        package = LOGGERS[name].package
        if package and importlib.util.find_spec(package) is None:
            problems.append(f"logger.{name}: needs the {package} package: pip install 'dlrun[{name}]'")
    return problems


def build_loggers(cfg, run_dir: Path) -> list:
    problems = logger_problems(cfg.logger)
    if problems:
        raise ConfigError(problems)
    return [load_object(LOGGERS[name].build)(cfg, run_dir) for name in chosen_loggers(cfg.logger)]


def finish_loggers(trainer, summary: dict) -> dict:
    """Close every logger's run; {logger name: its summary.json entry} for those that keep one."""
    kept = {}
    for name, entry in LOGGERS.items():
        if entry.finish:
            value = load_object(entry.finish)(trainer, summary)
            if value is not None or name in summary:
                kept[name] = value
    return kept


def name_tracker_runs(cfg, name: str, group: str) -> None:
    """Default the run name and group of each tracker that has them (W&B, MLflow: `name` and
    `group`; TensorBoard: `name`) where the config leaves them null; a sweep's jobs are NAME-N
    in the sweep folder's group."""
    from omegaconf import DictConfig, open_dict

    for settings in cfg.logger.values():
        if not isinstance(settings, DictConfig):
            continue
        with open_dict(cfg):
            if "group" in settings and settings.get("group") is None:
                settings.group = group
            if "name" in settings and settings.get("name") is None:
                settings.name = name


def earlier_tracker_runs(run_dir: Path) -> dict:
    """The tracker runs (W&B, MLflow) a stopped run kept in its summary.json: a resume keeps
    them there, so its loggers continue those runs."""
    from dlrun.training.summary import read_summary

    try:
        earlier = read_summary(run_dir)
    except (OSError, ValueError):
        return {}
    return {name: earlier[name] for name, entry in LOGGERS.items() if entry.finish and earlier.get(name)}


def flat_config(config: dict, prefix: str = "") -> dict:
    """{"optim.lr": 0.001, ...}: a nested config as one level of dotted keys (as overrides name them)."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(flat_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
