"""Private names of dlrun's dependencies (Hydra, Optuna, torch, numpy pickles, Lightning
beyond dlrun.base.lightning_private) pinned by fast tests: after an upgrade that renames or
changes one, a failure here names it, instead of a slow end-to-end test (or none) failing
somewhere downstream. Lightning's own private API is tested in tests/test_lightning_private.py.

The last test scans dlrun's source for underscored names of these libraries, so a new use
without a pin here fails too."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import pickle
import re
import time
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent


# -- Hydra ---------------------------------------------------------------------------------

def test_hydra_args_parser_reads_dlrun_command_lines():
    from hydra._internal.utils import get_args_parser  # dlrun.config.command_line

    args = get_args_parser().parse_args(["--multirun", "--config-dir", "/x", "a=1", "b=2"])
    assert (args.multirun, args.config_dir, args.overrides) == (True, "/x", ["a=1", "b=2"])
    assert args.help is False and args.cfg is None


def test_hydra_search_path_helpers_resolve_a_config_path(tmp_path):
    from hydra._internal.utils import compute_search_path_dir, create_config_search_path  # dlrun.config.compose

    (tmp_path / "conf").mkdir()
    folder = compute_search_path_dir(str(tmp_path / "app.py"), None, "conf")
    assert Path(folder) == tmp_path / "conf"
    search_path = create_config_search_path(folder)
    assert [element.path for element in search_path.get_path() if element.provider == "main"] == [folder]


def test_hydra_main_object_composes_from_a_search_path(tmp_path):
    from hydra import version
    from hydra._internal.hydra import Hydra  # dlrun.config.compose.hydra_for
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup
    from hydra.types import RunMode

    (tmp_path / "config.yaml").write_text("width: 3\n")
    backup = get_gh_backup()
    version.setbase("1.3")
    try:
        Hydra.create_main_hydra2(task_name="app", config_search_path=create_config_search_path(str(tmp_path)))
        config = GlobalHydra.instance().hydra.compose_config("config", ["width=5"], run_mode=RunMode.RUN)
    finally:
        restore_gh_from_backup(backup)
    assert config.width == 5


def test_hydra_basic_launcher_and_job_return_value():
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher  # the dlrun sweeper and population launcher
    from hydra.core.utils import JobReturn, JobStatus
    from hydra.plugins.launcher import Launcher

    assert issubclass(BasicLauncher, Launcher)
    assert {"hydra_context", "task_function", "config"} <= set(inspect.signature(BasicLauncher.setup).parameters)
    failed = JobReturn(status=JobStatus.FAILED, _return_value=ValueError("boom"))
    assert isinstance(failed._return_value, ValueError)  # the exception of a failed job, unraised
    with pytest.raises(ValueError):
        failed.return_value  # the public property re-raises it


def _yaml_logger_names() -> set:
    hydra_node = yaml.safe_load((ROOT / "dlrun" / "conf" / "config.yaml").read_text())["hydra"]
    return {name for section in ("hydra_logging", "job_logging") for name in hydra_node[section]["loggers"]}


@pytest.mark.parametrize("module_name", ["hydra_plugins.hydra_joblib_launcher._core",
                                         "hydra_plugins.hydra_submitit_launcher.submitit_launcher"])
def test_launcher_loggers_quieted_in_config_yaml_are_the_launchers_own(module_name):
    """conf/config.yaml sets these loggers to WARNING (their per-job lines would flood the
    console); a renamed module would bring the lines back silently."""
    module = importlib.import_module(module_name)
    logger = module.log
    assert isinstance(logger, logging.Logger) and logger.name == module_name
    assert any(logger.name == name or logger.name.startswith(name + ".") for name in _yaml_logger_names())


def test_every_logger_named_in_config_yaml_is_a_module_that_exists():
    for name in sorted(_yaml_logger_names()):
        assert importlib.util.find_spec(name) is not None, f"conf/config.yaml quiets logger {name}: no such module"


# -- Optuna --------------------------------------------------------------------------------

def test_optuna_study_storage_ids_and_stale_trials(tmp_path):
    """dlrun.sweeps (workers, loop, claims): study._storage, study._study_id, Trial._trial_id,
    FrozenTrial._trial_id and RDBStorage._get_stale_trial_ids (what fail_stale_trials reads)."""
    import warnings

    import optuna
    from optuna.storages import RDBStorage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeat_interval is "experimental"
        storage = RDBStorage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="pins")
    storage = study._storage  # Optuna wraps an RDBStorage in its cache; dlrun calls the wrapper
    assert hasattr(storage, "_get_stale_trial_ids") and hasattr(storage, "record_heartbeat")
    assert study._study_id == storage.get_study_id_from_name("pins")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the heartbeat "is supposed to be used with Study.optimize"
        trial = study.ask()
    frozen = study.trials[0]
    assert trial._trial_id == frozen._trial_id == storage.get_trial_id_from_study_id_trial_number(study._study_id, 0)
    storage.record_heartbeat(trial._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []  # beat just now
    deadline = time.monotonic() + 60
    while not storage._get_stale_trial_ids(study._study_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]


def test_optuna_refuses_updating_a_finished_trial_with_its_own_error(tmp_path):
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError  # dlrun.sweeps.loop and workers catch it

    from dlrun.base.optuna_private import storage_of, trial_id

    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(UpdateFinishedTrialError):
        storage_of(study).set_trial_user_attr(trial_id(trial), "worker", "x")


# -- torch ---------------------------------------------------------------------------------

def test_torch_foreach_kernels_compute_what_dlrun_expects():
    """dlrun.callbacks.grad_norm (_foreach_norm) and averaging (_foreach_lerp_, _foreach_copy_)."""
    tensors = [torch.tensor([3.0, 4.0]), torch.tensor([[1.0, 0.0], [0.0, 0.0]])]
    assert [float(n) for n in torch._foreach_norm(tensors)] == [5.0, 1.0]
    average = [torch.zeros(2), torch.zeros(2, 2)]
    torch._foreach_lerp_(average, tensors, 0.5)
    assert torch.equal(average[0], torch.tensor([1.5, 2.0]))
    torch._foreach_copy_(average, tensors)
    assert all(torch.equal(a, t) for a, t in zip(average, tensors))


def test_torch_batchnorm_base_class_covers_every_batchnorm():
    from torch import nn  # dlrun.recipe.transfer freezes running statistics through it

    for layer in (nn.BatchNorm1d(2), nn.BatchNorm2d(2), nn.BatchNorm3d(2), nn.SyncBatchNorm(2)):
        assert isinstance(layer, nn.modules.batchnorm._BatchNorm)
    assert not isinstance(nn.LayerNorm(2), nn.modules.batchnorm._BatchNorm)


def test_torch_module_compile_in_place_is_seen_by_compiled_call_impl():
    """dlrun.distributed.callbacks.CompileModel compiles a network once: nn.Module.compile
    stores the compiled call in _compiled_call_impl (None before). compile() is lazy: no
    compilation happens here."""
    layer = torch.nn.Linear(2, 2)
    assert layer._compiled_call_impl is None
    layer.compile()
    assert layer._compiled_call_impl is not None


# -- numpy pickles (CIFAR-10 batches) -------------------------------------------------------

def test_every_numpy_name_allowed_in_a_cifar_batch_resolves():
    """dlrun.data.image_files._ArraysOnly allows numpy's private pickle names; CIFAR-10's
    files name numpy.core.*, numpy 2 pickles numpy._core.*: both must still load."""
    import io

    import numpy as np

    from dlrun.data.image_files import _ArraysOnly

    for module, name in _ArraysOnly.ALLOWED:
        assert callable(pickle.Unpickler(io.BytesIO()).find_class(module, name)), (module, name)
    batch = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 3]}
    for protocol in (2, 5):
        loaded = _ArraysOnly(io.BytesIO(pickle.dumps(batch, protocol=protocol))).load()
        assert np.array_equal(loaded[b"data"], batch[b"data"]) and loaded[b"labels"] == [1, 2, 3]


# -- Lightning, beyond dlrun.base.lightning_private ----------------------------------------

def test_lightning_module_keeps_current_hook_name_in_current_fx_name():
    """dlrun.training.task.Task.__setattr__ short-cuts this attribute (set around every hook)."""
    import lightning as L

    module = L.LightningModule()
    assert "_current_fx_name" in module.__dict__


# -- every private name in dlrun's source is pinned above ------------------------------------

PINNED = {
    "hydra._internal", "_internal.utils", "_internal.hydra", "core_plugins.basic_launcher", "._return_value",
    "._storage", "._study_id", "._trial_id", "._get_stale_trial_ids",
    "torch._foreach_norm", "torch._foreach_lerp_", "torch._foreach_copy_", "batchnorm._BatchNorm",
    "_compiled_call_impl", "numpy._core", "_frombuffer", "_current_fx_name",
}
LIBRARIES = ("hydra", "optuna", "torch", "nn", "numpy", "study", "storage", "frozen", "asked", "returned", "trial")


def test_no_unpinned_private_name_of_a_library_in_dlrun():
    """An underscored attribute reached through a library object (or module) in dlrun's code
    must be pinned by a test here or in test_lightning_private.py."""
    pattern = re.compile(r"\b(" + "|".join(LIBRARIES) + r")((?:\.\w+)*\._[a-z]\w*)")
    unpinned = []
    for path in [*ROOT.joinpath("dlrun").rglob("*.py"), *ROOT.joinpath("hydra_plugins").rglob("*.py")]:
        if path.name == "lightning_private.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in pattern.finditer(line.split("#")[0]):
                used = match.group(0)
                if not any(pin in used for pin in PINNED):
                    unpinned.append(f"{path.relative_to(ROOT)}:{number}: {used}")
    assert unpinned == []
