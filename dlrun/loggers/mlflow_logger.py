"""MLflow for one run: params (the resolved config, dotted keys), metrics per step, and at
the end the summary's best/final/test metrics, the plots and summary.json as artifacts.

logger.mlflow.tracking_uri null is a local store beside the run folders:
sqlite:///outputs/mlflow.db (artifacts in outputs/mlflow-artifacts/) in the working folder;
`mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db` shows it. In a sweep every
trial is its own MLflow run, named NAME-TRIAL and tagged `group` = the sweep folder's name.
The run's record gives MLflow's source tags (mlflow.source.git.commit, ...).
Rank zero only, like Lightning's MLFlowLogger. Needs `mlflow` (pip install dlrun[mlflow]).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from dlrun.distributed.env import is_global_zero
from dlrun.loggers.table import flat_config
from dlrun.training.record import read_record
from dlrun.training.summary import read_summary

log = logging.getLogger("dlrun")

LOCAL_STORE = Path("outputs") / "mlflow.db"
LOCAL_ARTIFACTS = Path("outputs") / "mlflow-artifacts"


def tracking_location(configured) -> tuple:
    """(tracking URI, artifact location for a new experiment or None: the server's own)."""
    if configured:
        return configured, None
    LOCAL_STORE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{LOCAL_STORE.resolve()}", LOCAL_ARTIFACTS.resolve().as_uri()


def previous_run_id(run_dir: Path):
    """The MLflow run a stopped run left in its summary.json: `dlrun resume` continues it."""
    try:
        return (read_summary(run_dir).get("mlflow") or {}).get("run_id")
    except (OSError, ValueError):
        return None


MAX_TAG = 5000  # MLflow's limit on a tag's value


def source_tags(run_dir: Path) -> dict:
    """MLflow's own source tags (the UI's Source and Git Commit columns) from the run's record:
    the command, the commit, branch and repository URL; dlrun.git.dirty says whether code.diff
    holds uncommitted changes."""
    record = read_record(run_dir)
    if record is None:
        return {}
    code = record.get("code") or {}
    tags = {"mlflow.source.type": "LOCAL", "mlflow.source.name": record.get("command"),
            "mlflow.source.git.commit": code.get("commit"), "mlflow.source.git.branch": code.get("branch"),
            "mlflow.source.git.repoURL": code.get("remote"),
            "dlrun.git.dirty": str(code["dirty"]).lower() if "dirty" in code else None}
    return {name: str(value)[:MAX_TAG] for name, value in tags.items() if value is not None}


def mlflow_logger(cfg, run_dir: Path):
    from lightning.pytorch.loggers import MLFlowLogger

    settings = cfg.logger.mlflow
    uri, artifacts = tracking_location(settings.tracking_uri)
    tags = {**source_tags(run_dir), **OmegaConf.to_container(settings.tags, resolve=True), "run_dir": str(run_dir)}
    if settings.group:
        tags["group"] = settings.group
    resumed = previous_run_id(run_dir)
    logger = MLFlowLogger(experiment_name=settings.experiment, run_name=settings.name or cfg.name, tracking_uri=uri,
                          tags=tags, artifact_location=artifacts, run_id=resumed)
    if resumed is None:  # a resumed run has its params already
        logger.log_hyperparams(flat_config(OmegaConf.to_container(cfg, resolve=True)))
    return logger


def _end_metrics(summary: dict) -> dict:
    values = {f"best/{name}": value for name, value in summary["best"].items()}
    values.update({f"final/{name}": value for name, value in summary["final"].items()})
    values.update(summary["test"])
    return {name: float(value) for name, value in values.items() if isinstance(value, (int, float))}


def _status(summary: dict) -> str:
    return {"completed": "FINISHED", "interrupted": "KILLED"}.get(summary["status"], "FAILED")


def finish_mlflow(trainer, summary: dict):
    """Close the run's MLflow run (end metrics, plots, summary.json); its summary.json entry, or None."""
    from lightning.pytorch.loggers import MLFlowLogger

    logger = next((each for each in trainer.loggers if isinstance(each, MLFlowLogger)), None) if trainer else None
    if logger is None or not is_global_zero():
        return None
    try:
        client, run_id = logger.experiment, logger.run_id
        for name, value in _end_metrics(summary).items():
            client.log_metric(run_id, name, value, step=summary["global_step"])
        for plot in sorted((Path(summary["run_dir"]) / "plots").glob("*.png")):
            client.log_artifact(run_id, str(plot), "plots")
        client.log_text(run_id, json.dumps(summary, indent=2, default=str), "summary.json")
        client.set_terminated(run_id, _status(summary))
        return {"run_id": run_id, "experiment_id": logger.experiment_id, "tracking_uri": client.tracking_uri}
    except Exception as error:  # the run's own result matters more than its MLflow copy
        log.warning("MLflow: could not finish the run: %s", error)
        return None
