"""One worker of a sweep from start to summary: settings -> search space -> plan -> the
shared study (created, or joined) -> this worker's loop -> the summary. Called by the Hydra
sweeper plugin, which supplies `launch` (Hydra's launcher), `summarize` (the sweep's report,
dlrun.report.sweep_table: a layer above this one) and what it read from the composed config."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dlrun.recipe.metrics import objectives
from dlrun.sweeps import study as studies
from dlrun.sweeps.claims import counted_trials
from dlrun.sweeps.loop import SweepAborted, Worker
from dlrun.sweeps.outage import StorageLost
from dlrun.sweeps.reconcile import reconcile, settle_from_folder
from dlrun.sweeps.samplers import build_pruner, build_sampler
from dlrun.sweeps.settings import make_plan, read_settings
from dlrun.sweeps.space import parse_space
from dlrun.sweeps.storage import ENV_STORAGE, Location, without_password, write_pointer
from dlrun.sweeps.trials import sweep_command
from dlrun.sweeps.workers import interrupt_own, presence_for, reap, this_worker

log = logging.getLogger("dlrun.sweep")

# Hydra overrides that describe where and how big one sweep is, not how it searches:
# a refined or continued sweep sets its own.
RUN_SPECIFIC_HYDRA = ("hydra.mode", "hydra.sweep.dir", "hydra.sweeper.n_trials", "hydra.sweeper.params",
                      "hydra.sweeper.storage", "hydra.sweeper.study_name")

# Recorded with the config folders (the record's "sources"), made absolute there.
CARRIED_BY_SOURCES = ("hydra.searchpath",)


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
    objective: object  # the metric the trials return (cfg.objective): a name, or a list of them
    launcher: dict  # hydra.launcher, as composed
    hydra_overrides: list  # the command line's hydra.* overrides
    config_loader: object = None  # Hydra's, for glob() over a group's options
    sources: dict | None = None  # the config folders and working folder (dlrun.training.record.ConfigSources)


def _record(request: SweepRequest, space, settings) -> dict:
    hydra_overrides = [o for o in request.hydra_overrides
                       if not o.lstrip("+~").startswith(RUN_SPECIFIC_HYDRA + CARRIED_BY_SOURCES)]
    return {
        "objective": objectives(request.objective)[0],  # the first: it sorts the trials, picks checkpoints
        "objectives": objectives(request.objective),
        "direction": settings.direction,
        "directions": list(settings.directions),
        "pruner": {"name": settings.pruner, "knobs": settings.pruner_knobs},
        "search_space": {key: param.text for key, param in space.params.items()},
        "fixed": list(space.fixed),
        "hydra_overrides": hydra_overrides,
        "n_trials": settings.n_trials,
        "sources": request.sources,  # the printed commands carry the config folders
    }


def location_of(request: SweepRequest, settings) -> Location:
    return Location(request.sweep_dir, settings.storage, settings.study_name, settings.storage_outage_s)


def _continue_hint(request: SweepRequest, planned: PlannedSweep) -> str:
    """What to run, once the storage is back, to continue the sweep (the URL without its password)."""
    settings = planned.settings
    where = [f"hydra.sweeper.storage={without_password(settings.storage)}",
             f"hydra.sweeper.study_name={settings.study_name}"] if settings.storage else []
    extra = [f"hydra.sweep.dir={request.sweep_dir}", *where]
    if settings.n_trials is not None:
        extra.append(f"hydra.sweeper.n_trials={settings.n_trials}")
    command = sweep_command(_record(request, planned.space, settings), extra=extra)
    return f"its finished trials' results are in their folders; to continue once it is back: {command}"


def open_sweep_study(request: SweepRequest, planned: PlannedSweep):
    """The shared study, created or joined (and study.json written for a database study)."""
    settings = planned.settings
    location = location_of(request, settings)
    sampler = build_sampler(settings.sampler, settings.sampler_knobs, settings.seed, tuple(planned.space.params))
    pruner = build_pruner(settings.pruner, settings.pruner_knobs)
    study = studies.create_or_continue(location, settings.directions, sampler, pruner, objectives(request.objective))
    write_pointer(location)
    return study


@contextmanager
def storage_in_environment(location: Location):
    """The storage URL in this process's environment while the sweep runs: the trials' processes
    inherit it (no file of dlrun's holds a password); a journal sweep clears any other."""
    before = os.environ.pop(ENV_STORAGE, None)
    if location.url:
        os.environ[ENV_STORAGE] = location.url
    try:
        yield
    finally:
        os.environ.pop(ENV_STORAGE, None)
        if before is not None:
            os.environ[ENV_STORAGE] = before


def plan_sweep(request: SweepRequest, warn: bool = True) -> PlannedSweep:
    """Settings, search space and plan, checked: nothing is created before this passes.
    `warn`: log what the settings adjust (the command line's precheck runs it quietly first)."""
    settings = read_settings(request.settings, request.objective, request.launcher, warn)
    space = parse_space(request.arguments, settings.params, request.config_loader)
    return PlannedSweep(settings, space, make_plan(space, settings))


def _announce(request, planned, study, worker: str, reaped: int) -> None:
    settings, space, plan = planned.settings, planned.space, planned.plan
    earlier = len(counted_trials(study))
    total = (f"{plan.n_trials} trials" if plan.n_trials is not None
             else f"{len(space.grid())} trials (every combination)")
    log.info("sweep %s: %s%s, sampler %s, pruner %s, %s %s, %d at a time (worker %s, study %s)", request.sweep_dir,
             total, f", {earlier} done before" if earlier else "", "grid" if plan.grid else settings.sampler,
             settings.pruner, "/".join(settings.directions), ",".join(objectives(request.objective)), plan.n_jobs,
             worker, study.study_name)
    if reaped:
        log.warning("%d trial(s) left running by a stopped worker: marked interrupted, not counted, their points "
                    "queued again", reaped)


def _run_worker(study, request, planned, launch, presence, worker: str, summarize, launch_batch=None) -> None:
    reconciled = reconcile(study, request.sweep_dir)  # the folders' truth first: a finished trial is told, not rerun
    _announce(request, planned, study, worker, len(reconciled.closed) + reap(study, presence))
    loop = Worker(study, planned.space, planned.plan, launch, objectives(request.objective), presence, worker,
                  on_told=lambda: summarize(request.sweep_dir, study, show=False, plots=False),
                  launch_batch=launch_batch, settle=lambda frozen: settle_from_folder(study, frozen, request.sweep_dir))
    try:
        loop.run(planned.plan.n_jobs)
    except KeyboardInterrupt:  # a signal stopped this worker: its running trials end interrupted
        interrupt_own(study, worker)
        raise


def run_sweep(request: SweepRequest, planned: PlannedSweep, launch, summarize, study=None, launch_batch=None):
    """Run this worker until no place is left in the study; the summary is printed and
    written whatever happens (covering every worker's trials), and returned.
    `summarize(sweep_dir, study, show=, plots=)` writes it (also after each told trial,
    quietly and without plots); `launch_batch`: a population launcher's, for
    plan.population trials at once."""
    settings = planned.settings
    study = study if study is not None else open_sweep_study(request, planned)
    study.set_user_attr(studies.SWEEP_RECORD, _record(request, planned.space, settings))
    worker, location = this_worker(), location_of(request, settings)
    presence = presence_for(location, worker)
    presence.start()
    try:
        try:
            with storage_in_environment(location):
                _run_worker(study, request, planned, launch, presence, worker, summarize, launch_batch)
        finally:
            presence.stop()
            report = summarize(request.sweep_dir, study)  # after an outage past its bound: StorageLost at once
    except StorageLost as error:
        raise SweepAborted(f"{error}; {_continue_hint(request, planned)}") from None
    return report
