"""Weights & Biases for one run: the logger (project, entity, name, group, tags, job type,
the resolved config as the run's config, the run's record as its `dlrun_record` entry and
W&B's git settings), online or offline, and the run's end (final
and best metrics in the W&B summary, the plots as images, `finish`) with what
summary.json keeps of it (its `wandb` field: id, mode, offline folder, url).

Rank zero only: Lightning's WandbLogger creates the W&B run on global rank zero alone,
and only rank zero finishes it. dlrun never reads an API key: it only checks whether one
is configured, to choose between online and offline.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger
from omegaconf import OmegaConf

from dlrun.base.lightning_private import drop_wandb_init_argument
from dlrun.distributed.env import is_global_zero
from dlrun.training.record import read_record
from dlrun.training.summary import read_summary

log = logging.getLogger("dlrun")

DEFAULT_HOST = "https://api.wandb.ai"
# How long an online start may wait for the W&B server (W&B's own default, 90 s with
# retries, hangs a run for minutes without network); WANDB_INIT_TIMEOUT sets it, as for W&B.
INIT_TIMEOUT_S = 30.0
_offline_told = False  # the offline notice is said once per process (a sweep's trials share it)


class RunLogger(WandbLogger):
    """Lightning's WandbLogger, remembering its mode for summary.json."""

    def __init__(self, mode: str, **kwargs):
        super().__init__(mode=mode, **kwargs)
        drop_wandb_init_argument(self, "anonymous")
        self.mode = mode


def has_credentials() -> bool:
    """Whether W&B would find credentials: WANDB_API_KEY (or an identity token file) in the
    environment, or a ~/.netrc entry for the W&B host. The key itself is never read."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_HOST)).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC") or Path.home() / ".netrc").authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(configured) -> tuple:
    """(mode, why): logger.wandb.mode if set, else WANDB_MODE, else online with credentials."""
    if configured:
        return configured, f"logger.wandb.mode={configured}"
    environment = os.environ.get("WANDB_MODE")
    if environment:
        return ("offline" if environment == "dryrun" else environment), f"WANDB_MODE={environment}"
    if has_credentials():
        return "online", "credentials found"
    return "offline", "no W&B credentials found; set WANDB_API_KEY or run `wandb login` to log online"


def _tell_offline_once(why: str, run_dir: Path) -> None:
    global _offline_told
    if not _offline_told:
        _offline_told = True
        log.warning("W&B is offline (%s). Runs are kept in each run folder's wandb/; upload them later with "
                    "`wandb sync RUN_DIR/wandb/offline-run-*` (this run: wandb sync %s/wandb/offline-run-*)",
                    why, run_dir)


def previous_run_id(run_dir: Path):
    """The W&B run id a stopped run left in its summary.json: `dlrun resume` continues that run."""
    try:
        return (read_summary(run_dir).get("wandb") or {}).get("id")
    except (OSError, ValueError):  # no summary.json yet, or an unreadable one: a new W&B run
        return None


def record_fields(run_dir: Path) -> tuple:
    """(the run config's `dlrun_record` entry, W&B's git settings) from the run's record: W&B
    shows the commit and repository of the run's code, not of whatever folder W&B looks in."""
    record = read_record(run_dir)
    if record is None:
        return {}, {}
    code = record.get("code") or {}
    entry = {"command": record.get("command"), "cwd": (record.get("sources") or {}).get("cwd"),
             "commit": code.get("commit"), "branch": code.get("branch"), "dirty": code.get("dirty"),
             "packages": record.get("packages")}
    git = {"git_commit": code.get("commit"), "git_root": code.get("repository"), "git_remote_url": code.get("remote")}
    return entry, {name: value for name, value in git.items() if value}


def init_timeout() -> float:
    try:
        return float(os.environ.get("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S))
    except ValueError:
        return INIT_TIMEOUT_S


def _host() -> str:
    """The W&B server as a message may name it: host and port, never user or password."""
    url = urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_HOST))
    return f"{url.hostname}:{url.port}" if url.port else str(url.hostname)


def _new_logger(cfg, run_dir: Path, mode: str) -> RunLogger:
    import wandb

    settings = cfg.logger.wandb
    entry, git = record_fields(run_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    return RunLogger(
        mode=mode, project=settings.project, entity=settings.entity, name=settings.name or cfg.name,
        group=settings.group, tags=list(settings.tags), job_type=settings.job_type, save_dir=str(run_dir),
        id=previous_run_id(run_dir), config={**config, "dlrun_record": entry} if entry else config,
        settings=wandb.Settings(init_timeout=init_timeout(), **git),
    )


def _started_online(logger: RunLogger) -> bool:
    """Start the online W&B run now, bounded by init_timeout(): False (nothing started) when
    the server cannot be reached or refuses the key in time."""
    try:
        logger.experiment  # noqa: B018 - the property starts the run (wandb.init)
        return True
    except Exception as error:  # CommError, AuthenticationError, a timeout: the run goes on offline
        global _offline_told
        _offline_told = True
        reason = " ".join(str(error).split()).split(" Consider increasing")[0][:160]
        log.warning("W&B: could not start online at %s within %.0f s (%s); logging offline to the run folder's "
                    "wandb/ instead (wandb sync it later)", _host(), init_timeout(), reason)
        return False


def wandb_logger(cfg, run_dir: Path) -> RunLogger:
    mode, why = resolve_mode(cfg.logger.wandb.mode)
    if mode == "offline" and is_global_zero():
        _tell_offline_once(why, run_dir)
    logger = _new_logger(cfg, run_dir, mode)
    if mode == "online" and is_global_zero() and not _started_online(logger):
        logger = _new_logger(cfg, run_dir, "offline")
    return logger


def _run_summary(summary: dict) -> dict:
    values = {"status": summary["status"], "wall_time_s": summary["wall_time_s"],
              "global_step": summary["global_step"], "epochs": summary["epochs"],
              f"best_objective/{summary['objective']['metric']}": summary["objective"]["value"]}
    values.update({f"best/{name}": value for name, value in summary["best"].items()})
    values.update({f"final/{name}": value for name, value in summary["final"].items()})
    values.update(summary["test"])
    return {key: value for key, value in values.items() if value is not None}


def _log_plots(run, run_dir: Path) -> None:
    import wandb

    images = {f"plots/{path.stem}": wandb.Image(str(path)) for path in sorted((Path(run_dir) / "plots").glob("*.png"))}
    if images:
        run.log(images)


def _run_info(run, mode: str) -> dict:
    offline_dir = str(Path(run.dir).parent) if mode == "offline" else None
    return {"id": run.id, "name": run.name, "project": run.project, "group": run.group or None, "mode": mode,
            "url": run.url if mode == "online" else None, "dir": offline_dir,
            "sync": f"wandb sync {offline_dir}" if offline_dir else None}


def finish_wandb(trainer, summary: dict):
    """Close the run's W&B run (summary metrics, plots, exit code); its summary.json entry, or None."""
    logger = next((each for each in trainer.loggers if isinstance(each, RunLogger)), None) if trainer else None
    if logger is None or logger.mode == "disabled" or not is_global_zero():
        return None
    try:
        run = logger.experiment
        run.summary.update(_run_summary(summary))
        _log_plots(run, summary["run_dir"])
        info = _run_info(run, logger.mode)
        run.finish(exit_code=0 if summary["status"] == "completed" else 1)
        return info
    except Exception as error:  # the run's own result matters more than its W&B copy
        log.warning("W&B: could not finish the run: %s", error)
        return None
