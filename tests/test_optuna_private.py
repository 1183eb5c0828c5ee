"""The Optuna private API dlrun relies on (dlrun.base.optuna_private), and the public calls
its sweeps build on, checked on the installed Optuna with real storages (a journal file, a
SQLite database): after an Optuna upgrade, a failure here names the helper to rewrite. Fast."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from dlrun.base.optuna_private import storage_of, trial_id
from dlrun.sweeps.storage import Location, open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning",
                                        "ignore:Heartbeat of storage:UserWarning")


def test_the_storage_and_the_trial_ids_are_what_storage_calls_take(tmp_path):
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "study.journal")))
    study = optuna.create_study(storage=storage, study_name="s")
    asked = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert storage_of(study) is storage
    assert isinstance(trial_id(asked), int)
    frozen = storage.get_trial(trial_id(asked))
    assert frozen.number == asked.number and trial_id(frozen) == trial_id(asked)
    storage.set_trial_user_attr(trial_id(frozen), "dlrun_worker", "here-1")  # what claims and close do
    assert study.trials[0].user_attrs == {"dlrun_worker": "here-1"}


def test_a_queued_trial_is_taken_once(tmp_path):
    """reconcile takes a queued retry as ask would: WAITING -> RUNNING succeeds for one worker only.
    Two workers are two storages on one journal file, as two processes open it (within one storage,
    Optuna 4.3 answers True again for the trial it took last; dlrun's slots share a lock)."""
    path = str(tmp_path / "j")
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(path)), study_name="s")
    other = optuna.load_study(storage=JournalStorage(JournalFileBackend(path)), study_name="s")
    study.enqueue_trial({"x": 0.5})
    (waiting,) = study.get_trials(states=(TrialState.WAITING,))
    assert storage_of(study).set_trial_state_values(trial_id(waiting), TrialState.RUNNING) is True
    assert storage_of(other).set_trial_state_values(trial_id(waiting), TrialState.RUNNING) is False
    study.tell(waiting.number, 1.5)
    assert study.trials[0].state == TrialState.COMPLETE and study.trials[0].value == 1.5


def test_stale_trials_are_failed_and_handed_to_dlruns_callback(tmp_path, monkeypatch):
    """A database study as dlrun opens it: heartbeats on, fail_stale_trials calls the stale-trial
    callback (retry_stale), which queues the point again."""
    monkeypatch.setattr("dlrun.sweeps.storage.HEARTBEAT_S", 1.0)
    monkeypatch.setattr("dlrun.sweeps.storage.STALE_AFTER_S", 1.0)
    storage = open_storage(Location(tmp_path, f"sqlite:///{tmp_path / 'study.db'}", "s"))
    study = optuna.create_study(storage=storage, study_name="s")
    asked = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage_of(study).record_heartbeat(trial_id(asked))
    time.sleep(2.5)  # past the 1 s grace period: the heartbeat is stale (not a timing assert)
    optuna.storages.fail_stale_trials(study)
    states = [(trial.state, trial.user_attrs.get("dlrun_retry_of")) for trial in study.trials]
    assert states == [(TrialState.FAIL, None), (TrialState.WAITING, 0)]
    assert study.trials[1].system_attrs["fixed_params"] == {"x": asked.params["x"]}
