"""TensorBoard: event files in RUN_DIR/tensorboard/ (metrics per step, the resolved config
as hyperparameters). `tensorboard --logdir outputs` shows every run; a sweep's trials sit
together under their sweep folder. Needs the `tensorboard` package (pip install dlrun[tensorboard])."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from dlrun.distributed.env import is_global_zero
from dlrun.loggers.table import flat_config

FOLDER = "tensorboard"


def tensorboard_logger(cfg, run_dir: Path):
    from lightning.pytorch.loggers import TensorBoardLogger

    # name="tensorboard", version="": the events go straight into RUN_DIR/tensorboard
    logger = TensorBoardLogger(save_dir=str(run_dir), name=FOLDER, version="", default_hp_metric=False)
    logger.log_hyperparams(flat_config(OmegaConf.to_container(cfg, resolve=True)))
    return logger


def finish_tensorboard(trainer, summary: dict):
    """The event folder (for summary.json), once its last events are on disk."""
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = next((each for each in trainer.loggers if isinstance(each, TensorBoardLogger)), None) if trainer else None
    if logger is None or not is_global_zero():
        return None
    logger.finalize("success" if summary["status"] == "completed" else "failed")
    return {"dir": str(Path(logger.log_dir))}
