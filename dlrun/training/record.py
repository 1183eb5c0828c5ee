"""The record of a run (record.json, and code.diff beside it): what it takes to make the run
again without anyone's memory. The command as given and the working folder, every config
folder (absolute), the overrides that made this run's config (.hydra/config.yaml holds it
resolved), the seeds, the git state of the working folder's repository (the uncommitted diff
in code.diff, untracked files listed), the package versions, the host, the device and the
number of processes. Secrets never reach it: a password in a URL is masked.

Written once by whoever starts a run, before it trains (dlrun.training.session for the
`dlrun` command, `dlrun.run()` and sweep trials; `dlrun resume` adds to it; a population's
launcher for each member). Read by `dlrun rerun`, by the trackers (git tags) and by every
command dlrun prints for copying: `command_line` builds them, so they carry the config folders.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dlrun.base import atomic
from dlrun.base.errors import ConfigError
from dlrun.base.paths import config_dir
from dlrun.base.provenance import git_state, gpus, host, package_versions
from dlrun.base.secrets import masked

RECORD_FILE = "record.json"
DIFF_FILE = "code.diff"
RECORD_VERSION = 1
# Groups that only shape a sweep (presets of hydra.sweeper / hydra.launcher): a single run of
# one of its trials does without them.
SWEEP_ONLY_GROUPS = ("sweep", "launcher")
# Hydra's config sources: the primary folder, --config-dir, hydra.searchpath.
PRIMARY, CONFIG_DIR, SEARCH_PATH = "main", "command-line", "hydra.searchpath"


@dataclass(frozen=True)
class ConfigSources:
    """Where a command's configs come from, every folder absolute, and the folder it ran in."""

    cwd: str
    config_dirs: tuple = ()  # --config-dir
    search_path: tuple = ()  # hydra.searchpath entries (file://ABS or pkg://...)
    config_path: str | None = None  # the primary folder when it is not dlrun's own
    config_name: str = "config"

    def flags(self) -> list:
        """The command-line words that choose these configs, before any override."""
        words = ["--config-path", self.config_path] if self.config_path else []
        words += ["--config-name", self.config_name] if self.config_name != "config" else []
        words += ["--config-dir", self.config_dirs[0]] if self.config_dirs else []
        extra = [f"file://{folder}" for folder in self.config_dirs[1:]] + list(self.search_path)
        return words + ([f"hydra.searchpath=[{','.join(extra)}]"] if extra else [])

    def searchpath_entries(self) -> list:
        """Every extra config folder as a hydra.searchpath entry (--config-dir's included)."""
        return [f"file://{folder}" for folder in self.config_dirs] + list(self.search_path)

    def as_record(self) -> dict:
        return {"cwd": self.cwd, "config_dirs": list(self.config_dirs), "search_path": list(self.search_path),
                "config_path": self.config_path, "config_name": self.config_name}

    @classmethod
    def from_record(cls, record: dict | None) -> "ConfigSources":
        record = record or {}
        return cls(record.get("cwd") or os.getcwd(), tuple(record.get("config_dirs") or ()),
                   tuple(record.get("search_path") or ()), record.get("config_path"),
                   record.get("config_name") or "config")


def _absolute(path: str, cwd: str) -> str:
    return path if "://" in path and not path.startswith("file://") else str(Path(cwd, path.removeprefix("file://")))


def sources_from_hydra(hydra_node) -> ConfigSources:
    """The config sources of a Hydra job or sweep (its hydra node: runtime.config_sources)."""
    runtime = hydra_node.runtime
    cwd = str(runtime.cwd)
    found = {PRIMARY: [], CONFIG_DIR: [], SEARCH_PATH: []}
    for source in runtime.config_sources or ():
        if source.provider in found and source.path:
            found[source.provider].append(source)
    primary = [str(source.path) for source in found[PRIMARY] if source.schema == "file"]
    config_path = primary[0] if primary and Path(primary[0]) != config_dir() else None
    search = [f"file://{_absolute(str(s.path), cwd)}" if s.schema == "file" else f"{s.schema}://{s.path}"
              for s in found[SEARCH_PATH]]
    return ConfigSources(cwd, tuple(_absolute(str(s.path), cwd) for s in found[CONFIG_DIR]), tuple(search),
                         config_path, str(hydra_node.job.config_name or "config"))


def command_line(sources: ConfigSources, args, here: str | None = None) -> str:
    """`dlrun FLAGS ARGS`, ready to paste into a shell: the config folders' flags first; with
    `cd CWD && ` in front when it is printed in another folder than the one it must run in
    (the user's `_target_` code and relative paths are found from there)."""
    words = shlex.join(["dlrun", *sources.flags(), *(masked(str(arg)) for arg in args)])
    here = os.getcwd() if here is None else here
    return words if Path(here).resolve() == Path(sources.cwd).resolve() else f"cd {shlex.quote(sources.cwd)} && {words}"


def group_of(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0].split("@", 1)[0]


def single_run_overrides(overrides) -> list:
    """A trial's overrides as a single run's: without the groups that only shape a sweep."""
    return [override for override in overrides if group_of(override) not in SWEEP_ONLY_GROUPS]


def overridden(recorded, given) -> list:
    """The recorded overrides with the `given` ones on top: a key given again replaces its
    recorded value (Hydra refuses a group chosen twice)."""
    given = [str(override) for override in given]
    keys = {group_of(override) for override in given}
    return [override for override in recorded if group_of(override) not in keys] + given


@dataclass(frozen=True)
class Invocation:
    """How a run was started: by what (kind), from which configs, with which overrides."""

    kind: str  # "run", "sweep trial", "population member", "dlrun.run()"
    sources: ConfigSources
    overrides: tuple = ()
    argv: tuple = field(default_factory=lambda: tuple(sys.argv))
    sweep: dict | None = None  # {"dir": SWEEP_DIR, "trial": N} for a trial

    def command(self) -> list:
        """The single run's overrides that compose this run's config again."""
        return single_run_overrides(self.overrides)


def invocation_from_hydra(hydra_node, kind: str | None = None) -> Invocation:
    """The invocation of a Hydra job: a single run (mode RUN) or a trial of a sweep."""
    sources = sources_from_hydra(hydra_node)
    overrides = tuple(str(override) for override in hydra_node.overrides.task)
    if str(hydra_node.mode) in ("RUN", "RunMode.RUN"):
        return Invocation(kind or "run", sources, overrides)
    sweep = {"dir": str(Path(sources.cwd, str(hydra_node.sweep.dir))), "trial": int(hydra_node.job.num)}
    return Invocation(kind or "sweep trial", sources, overrides, sweep=sweep)


def _seeds(config: dict, prefix: str = "") -> dict:
    """Every knob named *seed in the resolved config, by its dotted key."""
    found = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(_seeds(value, name + "."))
        elif str(key).endswith("seed") and not isinstance(value, (list, dict)):
            found[name] = value
    return found


def _device(hardware: dict, processes: int) -> dict:
    """The devices asked for and those found; torch's CUDA and cuDNN builds (no CUDA context
    is made: this process may only launch the ranks)."""
    import torch  # the run imports it next: reading its CUDA build costs nothing more

    device = {key: hardware.get(key) for key in ("accelerator", "devices", "num_nodes", "precision", "strategy")}
    device["processes"] = processes
    device["cuda"] = torch.version.cuda
    device["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    device["gpus"] = gpus()
    device["visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    return device


def build_record(config: dict, invocation: Invocation, processes: int = 1):
    """(record, uncommitted diff or "") for a run of the resolved `config`."""
    git = git_state(invocation.sources.cwd)
    diff = git.diff if git else ""
    record = {
        "record_version": RECORD_VERSION,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "kind": invocation.kind,
        "command": command_line(invocation.sources, invocation.command(), here=invocation.sources.cwd),
        "argv": [masked(str(word)) for word in invocation.argv],
        "sources": invocation.sources.as_record(),
        "overrides": [masked(override) for override in invocation.overrides],
        "sweep": invocation.sweep,
        "seeds": _seeds(config),
        "code": git.as_record(DIFF_FILE if diff else None) if git else None,
        "packages": package_versions(),
        "host": host(),
        "device": _device(config.get("hardware") or {}, processes),
    }
    return record, diff


def write_record(config: dict, run_dir, invocation: Invocation, processes: int = 1) -> dict:
    """record.json (and code.diff when the code has uncommitted changes) in `run_dir`."""
    record, diff = build_record(config, invocation, processes)
    run_dir = Path(run_dir)
    if diff:
        atomic.write_text(run_dir / DIFF_FILE, diff)
    atomic.write_text(run_dir / RECORD_FILE, json.dumps(record, indent=2))
    return record


def read_record(run_dir) -> dict | None:
    """The run's record, or None for a folder without one (a run of an earlier dlrun)."""
    path = Path(run_dir) / RECORD_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def add_resume(run_dir, overrides) -> dict | None:
    """A resume's entry in the record: its overrides join the run's (a rerun makes the resumed
    run, e.g. with its longer schedule), and when and from which commit it went on."""
    record = read_record(run_dir)
    if record is None:
        return None
    git = git_state(os.getcwd())
    record["overrides"] = overridden(record.get("overrides", []), [masked(str(override)) for override in overrides])
    sources = ConfigSources.from_record(record.get("sources"))
    record["command"] = command_line(sources, single_run_overrides(record["overrides"]), here=sources.cwd)
    record.setdefault("resumes", []).append({
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": [masked(str(word)) for word in sys.argv],
        "cwd": os.getcwd(), "overrides": [masked(str(override)) for override in overrides],
        "commit": git.commit if git else None, "dirty": git.dirty if git else None})
    atomic.write_text(Path(run_dir) / RECORD_FILE, json.dumps(record, indent=2))
    return record


def enter_working_folder(record: dict) -> ConfigSources:
    """Go where the recorded run was started (its `_target_` code importable from there, its
    relative paths found there), from whatever folder the command was typed in."""
    sources = ConfigSources.from_record(record.get("sources"))
    if not Path(sources.cwd).is_dir():
        raise ConfigError([f"{sources.cwd}: the run's working folder is gone (record.json, sources.cwd); "
                           "the run can only be made again from there"])
    os.chdir(sources.cwd)
    if sources.cwd not in sys.path:
        sys.path.insert(0, sources.cwd)
    return sources
