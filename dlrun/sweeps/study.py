"""The study in the sweep folder: Optuna's journal file storage (an append-only log that
processes on one machine or on a shared filesystem write to safely; no server). The
sweeper creates or continues it; a trial's own process opens it to report and prune;
`dlrun summary` / `dlrun refine` read it.

How the sweep describes itself to those readers lives in the study's user attributes
(SWEEP_RECORD): the objective, the pruner, the search space as typed, the fixed overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

JOURNAL_FILE = "study.journal"
SWEEP_RECORD = "dlrun_sweep"
# Set in a trial's process (through hydra.job.env_set) so that it can find its trial.
ENV_SWEEP_DIR = "DLRUN_SWEEP_DIR"
ENV_TRIAL = "DLRUN_SWEEP_TRIAL"


class NotASweep(FileNotFoundError):
    """A folder without a study; str() says which."""


def journal_path(sweep_dir) -> Path:
    return Path(sweep_dir) / JOURNAL_FILE


def open_storage(sweep_dir):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # dlrun logs each trial itself
    return JournalStorage(JournalFileBackend(str(journal_path(sweep_dir))))


def _study_name(storage):
    """The folder's one study (None before the first trial)."""
    from optuna.study import get_all_study_names

    names = get_all_study_names(storage)
    return names[0] if names else None


def trials_so_far(sweep_dir) -> int:
    if not journal_path(sweep_dir).is_file():
        return 0
    storage = open_storage(sweep_dir)
    name = _study_name(storage)
    return 0 if name is None else len(storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False))


def create_or_continue(sweep_dir, direction: str, sampler, pruner):
    """The sweep folder's study, created on the first run of a sweep, continued after."""
    import optuna

    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    storage = open_storage(sweep_dir)
    name = _study_name(storage) or Path(sweep_dir).name
    return optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler,
                               pruner=pruner, load_if_exists=True)


def load(sweep_dir, pruner=None):
    """An existing sweep folder's study; NotASweep when there is none."""
    import optuna

    if not journal_path(sweep_dir).is_file():
        raise NotASweep(f"{sweep_dir}: no {JOURNAL_FILE} (not a dlrun sweep folder, or no trial has started yet)")
    storage = open_storage(sweep_dir)
    name = _study_name(storage)
    if name is None:
        raise NotASweep(f"{sweep_dir}: {JOURNAL_FILE} holds no study")
    return optuna.load_study(study_name=name, storage=storage, pruner=pruner)


def sweep_record(study) -> dict:
    return dict(study.user_attrs.get(SWEEP_RECORD, {}))


def trial_env(sweep_dir, number: int) -> dict:
    return {ENV_SWEEP_DIR: str(Path(sweep_dir).resolve()), ENV_TRIAL: str(number)}


def trial_of_this_process():
    """(optuna Trial, sweep record) of the sweep trial this process runs; None outside a sweep."""
    sweep_dir, number = os.environ.get(ENV_SWEEP_DIR), os.environ.get(ENV_TRIAL)
    if not sweep_dir or number is None:  # not a sweep trial: decided before importing optuna
        return None
    import optuna
    from optuna.trial import Trial

    from dlrun.sweeps.samplers import build_pruner

    if not journal_path(sweep_dir).is_file():
        raise NotASweep(f"{ENV_SWEEP_DIR}={sweep_dir}: no {JOURNAL_FILE} there")
    storage = open_storage(sweep_dir)
    name = _study_name(storage)
    study_id = storage.get_study_id_from_name(name)
    record = dict(storage.get_study_user_attrs(study_id).get(SWEEP_RECORD, {}))
    pruner = record.get("pruner", {"name": "none", "knobs": {}})
    study = optuna.load_study(study_name=name, storage=storage, pruner=build_pruner(pruner["name"], pruner["knobs"]))
    return Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, int(number))), record
