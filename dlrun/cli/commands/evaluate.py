"""`dlrun eval RUN_DIR [ckpt=best|last|PATH] [OVERRIDES...]`: test a run's checkpoint.

The run's saved config with the overrides on top builds the data and the network (no
init: the checkpoint's weights replace them); the data must have the spec the run
trained on (data=... or data.* overrides: other data of the same shapes and classes).
The checkpoint is read with weights_only and must fit the network exactly. The test
metrics are printed as a table and written to RUN_DIR/eval_<ckpt>_<data>.json; the run's
own files (summary, metrics.csv, checkpoints) are left as they are.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from dlrun.training.checkpoint_files import as_recorded
from dlrun.training.checkpoint_choice import trained_spec, check_fits, checkpoint_file, read_checkpoint
from dlrun.training.run_folder import load_run_config, logging_to, split_arguments
from dlrun.base.errors import CheckpointError, refusing_bad_input

USAGE = "usage: dlrun eval RUN_DIR [ckpt=best|last|PATH] [OVERRIDES...]   e.g. dlrun eval RUN_DIR ckpt=last data=digits"


def _check_spec(spec, run_dir: Path, data_name: str) -> None:
    trained = trained_spec(run_dir)
    if trained and trained != spec:
        raise CheckpointError(f"data={data_name} gives {spec.to_dict()}, but the run trained on {trained.to_dict()}: "
                              "eval needs data of the same spec (shapes, classes, task)")


def _tester(cfg, run_dir: Path):
    """A Trainer for one test pass: the run's accelerator and precision, one device, no
    logger and no callbacks (the run's own files stay as they are)."""
    import lightning as L

    from dlrun.training.trainer import route_lightning_logs

    route_lightning_logs()
    return L.Trainer(accelerator=cfg.hardware.accelerator, devices=1, precision=cfg.hardware.precision,
                     deterministic=cfg.hardware.deterministic, limit_test_batches=cfg.trainer.limit_test_batches,
                     enable_progress_bar=cfg.trainer.progress_bar, enable_model_summary=False, logger=False,
                     enable_checkpointing=False, default_root_dir=str(run_dir))


def evaluate(cfg, run_dir: Path, path: Path) -> dict:
    """The test metrics of checkpoint `path` on cfg's data."""
    import lightning as L

    from dlrun.training.runner import build_components

    content = read_checkpoint(path)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, task = build_components(cfg, initialise=False)
    _check_spec(datamodule.spec, run_dir, cfg.data.name)
    check_fits(content, task.model, path)
    task.load_state_dict(content["state_dict"])
    results = _tester(cfg, run_dir).test(task, datamodule=datamodule, verbose=False)
    return dict(results[0]) if results else {}


def _print_table(metrics: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:.6g}")
    Console().print(table)


def write_results(run_dir: Path, label: str, cfg, path: Path, overrides, metrics: dict) -> Path:
    from omegaconf import OmegaConf

    out = run_dir / f"eval_{label}_{cfg.data.name}.json"
    record = {"checkpoint": as_recorded(run_dir, path), "data": OmegaConf.to_container(cfg.data), "overrides": list(overrides),
              "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "metrics": metrics}
    out.write_text(json.dumps(record, indent=2))
    return out


@refusing_bad_input("eval")
def main(args) -> int:
    run_dir, options, overrides = split_arguments(args, USAGE, options=("ckpt",))
    which = options.get("ckpt", "best")
    cfg = load_run_config(run_dir, overrides)
    path = checkpoint_file(run_dir, which)
    with logging_to(run_dir):
        metrics = evaluate(cfg, run_dir, path)
    label = which if which in ("best", "last") else Path(which).stem
    _print_table(metrics, f"eval: {path.name} on {cfg.data.name}")
    print(f"results: {write_results(run_dir, label, cfg, path, overrides, metrics)}")
    return 0
