"""TensorBoard: event files in RUN_DIR/tensorboard/RUN_NAME/ (metrics per step; at the end,
the resolved config and the final and test metrics in the HParams plugin). `tensorboard
--logdir outputs` shows every run; a sweep's trials sit together under their sweep folder,
named as in the other trackers (NAME-TRIAL). Needs the `tensorboard` package (pip install
dlrun[tensorboard])."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from dlrun.distributed.env import is_global_zero
from dlrun.loggers.table import flat_config

FOLDER = "tensorboard"
HPARAM_TYPES = (bool, int, float, str)  # what the HParams plugin stores; anything else as its text


def tensorboard_logger(cfg, run_dir: Path):
    from lightning.pytorch.loggers import TensorBoardLogger

    name = cfg.logger.tensorboard.get("name") or cfg.name
    # version=NAME: the run's events in RUN_DIR/tensorboard/NAME, the name TensorBoard lists it by
    logger = TensorBoardLogger(save_dir=str(run_dir), name=FOLDER, version=str(name), default_hp_metric=False)
    logger.log_hyperparams(flat_config(OmegaConf.to_container(cfg, resolve=True)))  # hparams.yaml beside the events
    logger.dlrun_hparams = hparams_of(cfg)
    return logger


def hparams_of(cfg) -> dict:
    """The resolved config as the HParams plugin's {dotted key: value}."""
    flat = flat_config(OmegaConf.to_container(cfg, resolve=True))
    return {key: value if isinstance(value, HPARAM_TYPES) else str(value) for key, value in flat.items()}


def _write_hparams(logger, summary: dict) -> None:
    """The HParams plugin's records: the config, and the final and test metrics as the columns
    (the plugin reads each column's value from the run's scalar series of that tag)."""
    from torch.utils.tensorboard.summary import hparams
    from torch.utils.tensorboard.writer import FileWriter

    metrics = {tag: value for section in ("final", "test") for tag, value in (summary.get(section) or {}).items()
               if isinstance(value, (int, float))}
    if not metrics:
        return
    # Lightning has closed its writer when fit and test end: one more event file in the
    # same folder, which TensorBoard reads as part of the same run
    writer = FileWriter(logger.log_dir)
    try:
        for record in hparams(getattr(logger, "dlrun_hparams", {}), metrics):
            writer.add_summary(record)
    finally:
        writer.close()


def finish_tensorboard(trainer, summary: dict):
    """The event folder (for summary.json), once its last events are on disk."""
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = next((each for each in trainer.loggers if isinstance(each, TensorBoardLogger)), None) if trainer else None
    if logger is None or not is_global_zero():
        return None
    _write_hparams(logger, summary)
    logger.finalize("success" if summary["status"] == "completed" else "failed")
    return {"dir": str(Path(logger.log_dir))}
