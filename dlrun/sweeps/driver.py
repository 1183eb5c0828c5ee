"""One sweep from start to summary: settings -> search space -> plan -> the study in the
sweep folder -> the loop -> the summary. Called by the Hydra sweeper plugin, which
supplies `launch` (Hydra's launcher) and what it read from the composed config."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dlrun.sweeps import study as studies
from dlrun.sweeps.loop import close_abandoned, counted_trials, run_trials
from dlrun.sweeps.samplers import build_pruner, build_sampler
from dlrun.sweeps.settings import make_plan, read_settings
from dlrun.sweeps.space import parse_space

log = logging.getLogger("dlrun.sweep")

# Hydra overrides that describe where and how big one sweep is, not how it searches:
# a refined or continued sweep sets its own.
RUN_SPECIFIC_HYDRA = ("hydra.mode", "hydra.sweep.dir", "hydra.sweeper.n_trials", "hydra.sweeper.params")


@dataclass(frozen=True)
class PlannedSweep:
    settings: object  # SweepSettings
    space: object  # SearchSpace
    plan: object  # Plan


@dataclass(frozen=True)
class SweepRequest:
    settings: dict  # hydra.sweeper, as composed
    arguments: list  # the command line's task overrides
    sweep_dir: Path
    objective: str  # the metric the trials return (cfg.objective)
    launcher: dict  # hydra.launcher, as composed
    hydra_overrides: list  # the command line's hydra.* overrides
    config_loader: object = None  # Hydra's, for glob() over a group's options


def _record(request: SweepRequest, space, settings) -> dict:
    hydra_overrides = [o for o in request.hydra_overrides if not o.lstrip("+~").startswith(RUN_SPECIFIC_HYDRA)]
    return {
        "objective": request.objective,
        "direction": settings.direction,
        "pruner": {"name": settings.pruner, "knobs": settings.pruner_knobs},
        "search_space": {key: param.text for key, param in space.params.items()},
        "fixed": list(space.fixed),
        "hydra_overrides": hydra_overrides,
        "n_trials": settings.n_trials,
    }


def open_sweep_study(request: SweepRequest, settings):
    sampler = build_sampler(settings.sampler, settings.sampler_knobs, settings.seed,
                            studies.trials_so_far(request.sweep_dir))
    pruner = build_pruner(settings.pruner, settings.pruner_knobs)
    return studies.create_or_continue(request.sweep_dir, settings.direction, sampler, pruner)


def plan_sweep(request: SweepRequest) -> PlannedSweep:
    """Settings, search space and plan, checked: nothing is created before this passes."""
    settings = read_settings(request.settings, request.objective, request.launcher)
    space = parse_space(request.arguments, settings.params, request.config_loader)
    return PlannedSweep(settings, space, make_plan(space, settings))


def run_sweep(request: SweepRequest, planned: PlannedSweep, launch):
    """Run (or continue) the sweep; the summary is printed and written whatever happens."""
    from dlrun.sweeps.report import summarize

    settings, space, plan = planned.settings, planned.space, planned.plan
    study = open_sweep_study(request, settings)
    study.set_user_attr(studies.SWEEP_RECORD, _record(request, space, settings))
    abandoned = close_abandoned(study)
    earlier = len(counted_trials(study))
    total = (f"{plan.n_trials} trials" if plan.n_trials is not None
             else f"{len(space.grid())} trials (every combination)")
    log.info("sweep %s: %s%s, sampler %s, pruner %s, %s %s, %d at a time", request.sweep_dir, total,
             f", {earlier} done before" if earlier else "", "grid" if plan.grid else settings.sampler,
             settings.pruner, settings.direction, request.objective, plan.n_jobs)
    if abandoned:
        log.warning("%d trial(s) left running by a stopped sweep: marked interrupted, not counted", abandoned)
    try:
        run_trials(study, space, plan, launch, request.objective)
    except KeyboardInterrupt:  # a signal stopped the sweep: its running trials end interrupted, as their folders say
        close_abandoned(study)
        raise
    finally:
        report = summarize(request.sweep_dir, study)
    return report
