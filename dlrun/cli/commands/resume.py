"""`dlrun resume RUN_DIR [OVERRIDES...]`: continue a stopped run to its planned end.

The run's saved config (.hydra/config.yaml) with the overrides on top (trainer.max_epochs=40
extends a finished run), from checkpoints/last.ckpt, in the same folder: Lightning
restores weights, optimizer, schedule, loop progress (mid-epoch included) and callback
states (history, averages, random states); metrics.csv is appended to and summary.json
rewritten. The checkpoint is checked before anything trains; exit 2 on a bad command,
config or checkpoint, 1 when the resumed run does not complete.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlrun.training.checkpoint_choice import trained_spec, checkpoint_file, check_fits, read_checkpoint, require_training_state
from dlrun.training.run_folder import load_run_config, logging_to, save_config, split_arguments
from dlrun.training.run_dirs import holding
from dlrun.base.errors import ConfigError, refusing_bad_input

USAGE = "usage: dlrun resume RUN_DIR [OVERRIDES...]   e.g. dlrun resume RUN_DIR trainer.max_epochs=40"


# The optimizer and schedule continue from the checkpoint's state (its lr included), so
# overrides of these groups would be ignored: refuse them instead.
RESTORED_GROUPS = ("optim", "schedule")


def _refuse_restored(overrides) -> None:
    refused = [o for o in overrides if o.lstrip("+").split("=")[0].split(".")[0].split("/")[0] in RESTORED_GROUPS]
    if refused:
        raise ConfigError([f"{o}: the optimizer and schedule resume from the checkpoint's state, so "
                           f"{'/'.join(g + '.*' for g in RESTORED_GROUPS)} overrides would not apply; start a new "
                           "run from the weights instead (init=checkpoint init.path=RUN_DIR)" for o in refused])


def _single_process(cfg) -> None:
    from dlrun.distributed.plan import SINGLE, plan_launch

    if plan_launch(cfg.hardware).mode != SINGLE:
        raise ConfigError([f"hardware.devices={cfg.hardware.devices}: dlrun resume runs one process; "
                           "resume on one device (e.g. hardware.devices=1)"])


def resume_checkpoint(run_dir: Path, cfg) -> Path:
    """checkpoints/last.ckpt, checked: readable, with training state, fitting the model."""
    from dlrun.models.zoo import build_model

    path = checkpoint_file(run_dir, "last")
    content = read_checkpoint(path)
    require_training_state(content, path)
    spec = trained_spec(run_dir)
    if spec:  # the shapes the run trained with; the data is loaded once, by the run itself
        check_fits(content, build_model(cfg.model, spec), path)
    return path


def _killed_before_first_checkpoint(run_dir: Path) -> bool:
    """A run that stopped (killed, crashed, failed) before it wrote any checkpoint: nothing
    to continue from, so a resume starts it again. A completed run without checkpoints is not."""
    import json

    if any((Path(run_dir) / "checkpoints").glob("*.ckpt")):
        return False
    try:
        status = json.loads((Path(run_dir) / "summary.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return False
    return status != "completed"


@refusing_bad_input("resume")
def main(args) -> int:
    from dlrun.training.record import enter_working_folder, read_record

    run_dir, _, overrides = split_arguments(args, USAGE)
    run_dir = run_dir.resolve()
    _refuse_restored(overrides)
    record = read_record(run_dir)
    if record is not None:  # from any folder: the run's own code and relative paths, as when it started
        enter_working_folder(record)
    cfg = load_run_config(run_dir, overrides)
    _single_process(cfg)
    checkpoint = None if _killed_before_first_checkpoint(run_dir) else resume_checkpoint(run_dir, cfg)
    with holding(run_dir, take_over_dead=True):  # a live run is never resumed under its feet
        summary = _resume(cfg, run_dir, overrides, checkpoint)
    return 0 if summary["status"] == "completed" else 1


def _resume(cfg, run_dir: Path, overrides, checkpoint) -> dict:
    """From `checkpoint`, or (None) from step 0 in the same folder: the one run path
    (dlrun.training.session.execute) with the run's saved config, its record continued."""
    from dlrun.cli.hooks import run_hooks
    from dlrun.training.session import Run, execute

    if overrides or not (Path(run_dir) / ".hydra" / "config.yaml").is_file():  # killed before Hydra wrote it
        save_config(cfg, run_dir, overrides)
    with logging_to(run_dir):
        if checkpoint is None:
            print(f"dlrun resume: {run_dir} stopped before its first checkpoint: starting it again from step 0 "
                  "in the same folder", file=sys.stderr)
        title = f"resume {cfg.name} from {checkpoint}" if checkpoint else f"restart {cfg.name} from step 0"
        run = Run(cfg, run_dir, invocation=None, resume_from=checkpoint, title=title, overrides=tuple(overrides))
        return execute(run, hooks=run_hooks())
