"""The sweep's Optuna study: created or joined by each worker (dlrun.sweeps.storage says
where it lives), opened by a trial's own process to report and prune, read back by
`dlrun summary` / `dlrun refine`.

How the sweep describes itself to those readers lives in the study's user attributes
(SWEEP_RECORD): the objective, the pruner, the search space as typed, the fixed overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlrun.base.errors import BadInput
from dlrun.sweeps.storage import ENV_STORAGE, JOURNAL_FILE, Location, NotASweep, find, open_storage  # noqa: F401

SWEEP_RECORD = "dlrun_sweep"
# Set in a trial's process (through hydra.job.env_set) so that it can find its trial; the
# storage URL, when there is one, comes through the worker's own environment (ENV_STORAGE).
ENV_SWEEP_DIR = "DLRUN_SWEEP_DIR"
ENV_TRIAL = "DLRUN_SWEEP_TRIAL"
ENV_STUDY = "DLRUN_SWEEP_STUDY"


class StudyNameClash(BadInput):
    """A journal that holds another study than the one named; str() says both."""


def _only_study(storage, location: Location):
    """The study name to use: the one asked for, else the journal's one study (None before the first)."""
    from optuna.study import get_all_study_names

    names = get_all_study_names(storage)
    if location.study_name is not None:
        if not location.url and names and location.study_name not in names:
            raise StudyNameClash(f"hydra.sweeper.study_name={location.study_name}: {location.journal} holds the "
                                 f"study {names[0]!r}; name that one or choose another hydra.sweep.dir")
        return location.study_name
    return names[0] if names else None


def create_or_continue(location: Location, directions, sampler, pruner, objectives):
    """The sweep's study, created by the first worker, joined by the others and by a re-run;
    its values named by the objective metrics (optuna-dashboard's axes and tables say val/loss).
    `directions`, `objectives`: one each per objective (a name alone: a single objective)."""
    import warnings

    import optuna

    storage = open_storage(location, writing=True)
    name = _only_study(storage, location) or Path(location.sweep_dir).name
    directions = [directions] if isinstance(directions, str) else list(directions)
    names = [objectives] if isinstance(objectives, str) else list(objectives)
    study = optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    if study.metric_names != names:
        with warnings.catch_warnings():  # "experimental" in Optuna 4 and 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    return study


def load(sweep_dir, pruner=None):
    """An existing sweep folder's study; NotASweep when there is none."""
    import optuna

    location = find(sweep_dir)
    storage = open_storage(location)
    name = _only_study(storage, location)
    if name is None:
        raise NotASweep(f"{sweep_dir}: {JOURNAL_FILE} holds no study")
    return optuna.load_study(study_name=name, storage=storage, pruner=pruner)


def sweep_record(study) -> dict:
    return dict(study.user_attrs.get(SWEEP_RECORD, {}))


def trial_env(sweep_dir, number: int, study_name: str | None = None) -> dict:
    env = {ENV_SWEEP_DIR: str(Path(sweep_dir).resolve()), ENV_TRIAL: str(number)}
    return {**env, ENV_STUDY: study_name} if study_name else env


def trial_of_this_process():
    """(optuna Trial, sweep record) of the sweep trial this process runs; None outside a sweep."""
    sweep_dir, number = os.environ.get(ENV_SWEEP_DIR), os.environ.get(ENV_TRIAL)
    if not sweep_dir or number is None:  # not a sweep trial: decided before importing optuna
        return None
    return open_trial(sweep_dir, int(number), os.environ.get(ENV_STUDY) or None)


def open_trial(sweep_dir, number: int, study_name: str | None = None):
    """(optuna Trial, sweep record) of trial `number` of the sweep in `sweep_dir` (its storage
    URL, if any, from this process's environment), with the sweep's pruner."""
    import optuna
    from optuna.trial import Trial

    from dlrun.sweeps.samplers import build_pruner

    location = Location(Path(sweep_dir), os.environ.get(ENV_STORAGE) or None, study_name)
    if not location.url and not location.journal.is_file():
        raise NotASweep(f"{ENV_SWEEP_DIR}={sweep_dir}: no {JOURNAL_FILE} there")
    storage = open_storage(location)
    name = _only_study(storage, location)
    study_id = storage.get_study_id_from_name(name)
    record = dict(storage.get_study_user_attrs(study_id).get(SWEEP_RECORD, {}))
    pruner = record.get("pruner", {"name": "none", "knobs": {}})
    study = optuna.load_study(study_name=name, storage=storage, pruner=build_pruner(pruner["name"], pruner["knobs"]))
    return Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, int(number))), record
