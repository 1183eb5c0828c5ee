"""What a caller hands a run (dlrun.training.hooks): its callbacks join the run's, a
RunStopped they raise becomes the run's status, its end-of-run hooks see the finished
trainer, and ranks in other processes get the same hooks by name."""

from __future__ import annotations

import pytest
from lightning.pytorch.callbacks import Callback

from conftest import TINY
from dlrun.config.compose import compose, without_hydra
from dlrun.training.hooks import RunHooks, RunStopped

SEEN = []


class _Halted(RunStopped):
    status = "halted"


class _HaltAfterFirstValidation(Callback):
    def on_validation_end(self, trainer, pl_module):
        raise _Halted(f"halted at step {trainer.global_step}")


def halting_callback(cfg, run_dir):
    return _HaltAfterFirstValidation()


def remember_end(trainer, run_dir):
    SEEN.append((trainer.global_step, run_dir.name))


def test_a_callers_callback_stops_the_run_with_its_own_status(tmp_path):
    from dlrun.training.runner import execute

    SEEN.clear()
    cfg = without_hydra(compose([*TINY, "hardware.threads=1"]))
    summary = execute(cfg, tmp_path / "run", hooks=RunHooks(callbacks=(halting_callback,), at_end=(remember_end,)))
    assert summary["status"] == "halted" and summary["error"] == "halted at step 5"
    assert SEEN == [(5, "run")], "the end-of-run hook ran once, on the stopped run's trainer"
    assert not (tmp_path / "run" / "plots").exists(), "no plots unless the caller hands them in"


def test_hooks_travel_to_other_processes_by_name(tmp_path):
    from dlrun.report.curves import plot_run
    from dlrun.sweeps.pruning import pruning_callback

    hooks = RunHooks(callbacks=(pruning_callback,), at_end=(plot_run,))
    hooks.save(tmp_path / "hooks.json")
    assert RunHooks.load(tmp_path / "hooks.json") == hooks
    assert RunHooks.load(tmp_path / "none.json") == RunHooks()
    with pytest.raises(ValueError, match="module-level function"):
        RunHooks(at_end=(lambda trainer, run_dir: None,)).save(tmp_path / "lambda.json")


def test_a_pruned_trial_is_a_run_stopped_on_purpose():
    from dlrun.sweeps.pruning import Pruned

    assert issubclass(Pruned, RunStopped) and Pruned.status == "pruned"
