"""The one path of a run started from a command line: `prepare(args) -> Prepared` composes
the config once, validates it once and claims the run folder; `execute(prepared) -> summary`
trains it through Hydra's job runner (the .hydra/ files, run.log, hydra.job.env_set, Hydra's
callbacks) into dlrun.training.session.execute, where every run starts. The `dlrun` command,
`dlrun.run()` and `dlrun rerun` are thin callers; a sweep's trial reaches the same
session.execute from the config its sweeper composed and checked (dlrun.cli.app.job), `dlrun
resume` from the run's saved config (dlrun.cli.commands.resume), and population members are
Runs their population trains together (dlrun.population).

A rank that SLURM or torchrun started (one of several processes of one run) claims nothing:
the ranks share the folder their config names, and rank zero holds it once the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlrun.base.errors import ConfigError

RUN_DIR_KEY = "hydra.run.dir"


@dataclass(frozen=True)
class Prepared:
    checked: object  # dlrun.cli.precheck.Checked: the command line, its composed and its validated config
    run_dir: Path | None  # the claimed folder; None for --cfg/--help/--info, a sweep, or one of several ranks
    show_console: bool = True  # the header and result on the console; the log on the console too
    kind: str = "run"  # how the record names its start: "run" (the `dlrun` command), "dlrun.run()"


def _claim(args, checked, key: str) -> Path:
    """The run folder, claimed before anything is written: a folder from the default pattern may
    be taken by a run started in the same second (then NAME-2); ConfigError when a folder named
    on purpose holds a run or anything else."""
    from omegaconf import OmegaConf

    from dlrun.training.run_dirs import claim

    named = any(arg.split("=")[0].lstrip("+") == RUN_DIR_KEY for arg in args)
    # ${now:} resolved once, here; the folder appears with summary.json in it
    return claim(OmegaConf.select(checked.config, RUN_DIR_KEY), named, key, config=checked.run_config).resolve()


def _runs_one(line) -> bool:
    """A command line that trains one run: no sweep, nothing only for Hydra (--cfg, --help, --info)."""
    return not (line.multirun or line.hydra_only or line.app_help or line.show_cfg is not None)


def prepare(args, show_console: bool = True, kind: str = "run", folder_key: str | None = None) -> Prepared:
    """A command line checked (composed once, validated once: ConfigError says what is wrong)
    and, for a single run this process starts, its folder claimed (refusals name it `folder_key`,
    default Hydra's key)."""
    from dlrun.base.secrets import hide_in_arguments
    from dlrun.cli.precheck import check_command_line
    from dlrun.distributed.env import external_world_size

    args = hide_in_arguments(list(args))  # Hydra and dlrun write the command line into their files
    checked = check_command_line(args, folder_key=folder_key)
    # one of several ranks: the ranks share the folder every rank computes alike
    claim_here = _runs_one(checked.command_line) and external_world_size() == 1
    run_dir = _claim(args, checked, folder_key or RUN_DIR_KEY) if claim_here else None
    return Prepared(checked, run_dir, show_console, kind)


def prepare_single(args, show_console: bool = True, kind: str = "run", folder_key: str | None = None) -> Prepared:
    """prepare() for a caller that runs one run only (dlrun.run): ConfigError for anything else."""
    prepared = prepare(args, show_console, kind, folder_key)
    if prepared.run_dir is None:
        if not _runs_one(prepared.checked.command_line):
            raise ConfigError([f"{' '.join(args)}: {kind} runs one run in this process; a sweep (-m) or Hydra's "
                               "flags (--cfg, --help, --info) are for the `dlrun` command"])
        raise ConfigError([f"{kind}: this process is one of several ranks (SLURM or torchrun set WORLD_SIZE); start "
                           "the ranks with the `dlrun` command, which shares one run folder between them"])
    return prepared


def execute(prepared: Prepared) -> dict:
    """Train the prepared run in its folder (held while it trains); its summary. The run's bad
    input found while it starts (a data file, a checkpoint) is raised as ConfigError."""
    from dlrun.cli.entry import run_single
    from dlrun.training.run_dirs import holding

    if prepared.run_dir is None:  # one of several ranks: rank zero holds the folder once the run starts
        return run_single(prepared, Path(str(prepared.checked.config.hydra.run.dir)))
    with holding(prepared.run_dir):
        return run_single(prepared, prepared.run_dir)
