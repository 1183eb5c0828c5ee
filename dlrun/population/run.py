"""One population from its members' configs to their summaries: the same run path as a
single run (data -> each member's network and init -> one LightningModule -> one Lightning
Trainer -> fit -> test on each member's best weights), then every member's files in its own
run folder. Whatever happens, every member's summary.json is written."""

from __future__ import annotations

import copy
import logging
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from dlrun.population.members import Member, plot_population

log = logging.getLogger("dlrun")


def member_network(cfg, spec):
    """The member's network, initialised from its seed exactly as its single run's would be."""
    import lightning as L

    from dlrun.recipe.init_schemes import apply_init
    from dlrun.models.zoo import build_model

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    return apply_init(build_model(cfg.model, spec), cfg.init)


def trainer_config(cfg):
    """The population Trainer's config: the members' shared settings, without the per-run
    outputs a member writes itself (best checkpoints, loggers, the divergence stop). Its
    last.ckpt stays: saving it writes each member's resumable last.ckpt (dlrun.population.resume)."""
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.callbacks.checkpoint.save_best = False
        cfg.callbacks.divergence.enabled = False
        cfg.logger = {"csv": False}
    return cfg


def _fit_and_test(configs, members, work_dir: Path, state: dict) -> None:
    import lightning as L

    from dlrun.data.module import DataModule, data_seed
    from dlrun.population.module import PopulationModule
    from dlrun.training.trainer import build_trainer

    first = configs[0]
    L.seed_everything(first.seed, workers=True, verbose=False)
    datamodule = DataModule(first.data, data_seed(first))  # the split and batch order: shared
    spec = datamodule.spec
    networks = [member_network(cfg, spec) for cfg in configs]
    pruning = state["pruning"] or [None] * len(configs)
    transform = datamodule.input_transform.to_dict()
    members.extend(Member.start(index, OmegaConf.to_container(cfg, resolve=True), run_dir, spec, pruning[index],
                                transform) for index, (cfg, run_dir) in enumerate(zip(configs, state["run_dirs"])))
    module = PopulationModule(networks, spec, members)
    trainer = build_trainer(trainer_config(first), work_dir)
    state["module"], state["trainer"] = module, trainer
    resumed = _resume_file(members, state["resume_from"], work_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resumed)
    if trainer.interrupted:
        state["status"] = "interrupted"
        return
    if first.trainer.test_after_fit:
        module.use_best_weights()
        trainer.test(module, datamodule=datamodule, verbose=False)
    state["status"] = "completed"


def _resume_file(members: list, resume_from, work_dir: Path):
    """The population checkpoint made of the members' last.ckpt files to continue from, or None."""
    if not resume_from:
        return None
    from dlrun.population.resume import MEMBER_STATE, combined_checkpoint, restore_member
    from dlrun.recipe.transfer import read_weights_only
    from dlrun.training.checkpoint_io import write_checkpoint

    checkpoints = [read_weights_only(path) for path in resume_from]
    for member, checkpoint, path in zip(members, checkpoints, resume_from):
        restore_member(member, checkpoint[MEMBER_STATE], path)
    path = work_dir / "checkpoints" / "resumed.ckpt"
    write_checkpoint(combined_checkpoint(checkpoints), path)
    log.info("population resumes at step %d from its members' checkpoints: %s", checkpoints[0]["global_step"],
             ", ".join(map(str, resume_from)))
    return str(path)


def train_population(runs: list, work_dir, pruning=None, plots=None, resume_from=None) -> list:
    """Train prepared runs (dlrun.training.session.Run: validated configs sharing all but their
    member knobs, claimed folders, how each started) together; each member's summary, in the
    order given (also in each run folder's summary.json, beside its record.json).
    `pruning`: per member, None or (its optuna Trial, the sweep pruner's name); `plots`:
    how to draw the population's overlaid figure and its best member's (members.PopulationPlots), or None;
    `resume_from`: per member, the last.ckpt of the interrupted member it continues (all from one
    population at one step: dlrun.population.resume.resume_point), or None to start at step 0."""
    from dlrun.training.run_dirs import holding
    from dlrun.training.console import attach_run_log, detach, output_to_run_log

    from dlrun.training.session import begin_record

    configs = [run.config for run in runs]
    started, members = time.time(), []
    state = {"run_dirs": [Path(run.run_dir) for run in runs], "status": "failed", "error": None,
             "pruning": pruning, "plots": plots, "resume_from": resume_from, "work_dir": Path(work_dir)}
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for run, run_dir in zip(runs, state["run_dirs"]):
            run_dir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(holding(run_dir))  # one live owner per run folder, as a single run
            begin_record(run)  # each member's record.json, as a single run's
        handlers = [handler for run_dir in state["run_dirs"] for handler in attach_run_log(run_dir)]
        try:
            # what the shared training prints (warnings, trackers, the user's code): the first member's run.log
            with output_to_run_log(state["run_dirs"][0]):
                _fit_and_test(configs, members, work_dir, state)
        except (KeyboardInterrupt, SystemExit):
            state["status"] = "interrupted"
        except Exception as error:  # every member's summary says what happened
            state["error"] = f"{type(error).__name__}: {' '.join(str(error).split())}"
            state["traceback"] = "".join(traceback.format_exception(error))
            log.error("population failed: %s (traceback in each member's run.log)", state["error"])
        finally:
            summaries = _finish(members, state, started)
            detach(handlers)
    return summaries


def _finish(members: list, state: dict, started: float) -> list:
    trainer, module = state.get("trainer"), state.get("module")
    wall_time_s = time.time() - started
    step, epoch = (trainer.global_step, trainer.current_epoch) if trainer is not None else (0, 0)
    summaries = []
    for member in members:
        if state["error"] and member.alive:  # as a single run's failure: one line, the traceback kept aside
            member.summary["error"], member.summary["traceback"] = state["error"], state["traceback"]
            with open(member.run_dir / "run.log", "a") as handle:
                handle.write(state["traceback"])
        network = module.population.members[member.index] if module is not None else None
        summaries.append(member.finish(network, step, epoch, wall_time_s, state["status"]))
    try:
        if state["plots"] is not None:
            path = plot_population(members, state["plots"], state["work_dir"])
            log.info("the population's curves: %s", path)
    except Exception as error:  # plots are a convenience: the results stand without them
        log.error("could not draw the members' curves: %s", error)
    for member in members:
        try:
            member.close_trackers()
        except Exception as error:  # a tracker's copy matters less than the run's own files
            log.warning("trial folder %s: could not report to its trackers: %s", member.run_dir, error)
    return summaries
