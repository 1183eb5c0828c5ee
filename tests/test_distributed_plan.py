"""The pieces of multi-process training that need no processes: the launch plan, the
environment rules (checked against Lightning's), the strategy, per-rank data shares and the
parent's verdict when a rank dies."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import torch

from conftest import read_json
from dlrun.config.compose import compose
from dlrun.distributed import env, plan
from dlrun.distributed.launch import settle_summary
from dlrun.distributed.records import mark_failed, update_record
from dlrun.config.validate import ConfigError, validate

LAUNCHER_VARIABLES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "WORLD_SIZE", "SLURM_NTASKS",
                      "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_JOB_NAME", "SLURM_NTASKS_PER_NODE",
                      "SLURM_NNODES", "JSM_NAMESPACE_RANK", "TORCHELASTIC_RUN_ID", env.LAUNCHER_VARIABLE)


@pytest.fixture
def clean_env(monkeypatch):
    """No launcher variables: this process was started by a person, not by SLURM or torchrun."""
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def hardware(*overrides):
    return compose(list(overrides)).hardware


def slurm_task(monkeypatch, procid: int, ntasks: int, job_name: str = "dlrun"):
    monkeypatch.setenv("SLURM_NTASKS", str(ntasks))
    monkeypatch.setenv("SLURM_PROCID", str(procid))
    monkeypatch.setenv("SLURM_JOB_NAME", job_name)


def test_presets_plan_one_process_or_a_local_launch(clean_env):
    assert plan.plan_launch(hardware("hardware=cpu")) == plan.LaunchPlan(plan.SINGLE, 1, 1)
    assert plan.plan_launch(hardware("hardware=auto")).mode == plan.SINGLE
    launch = plan.plan_launch(hardware("hardware=ddp_cpu"))
    assert (launch.mode, launch.devices, launch.num_nodes) == (plan.LAUNCH, 2, 1)
    assert plan.plan_launch(hardware("hardware=ddp_cpu", "hardware.devices=3")).devices == 3


def test_multinode_outside_slurm_is_refused_with_the_way_to_submit_it(clean_env):
    with pytest.raises(ConfigError, match=r"hardware.num_nodes=2: .*hydra/launcher=slurm"):
        plan.plan_launch(hardware("hardware=multinode"))


def test_fsdp_on_the_cpu_is_refused_before_any_rank_starts(clean_env):
    with pytest.raises(ConfigError, match=r"hardware.strategy=fsdp with hardware.accelerator=cpu: .*strategy=ddp"):
        plan.plan_launch(hardware("hardware=ddp_cpu", "hardware.strategy=fsdp"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_gpu_presets_without_a_gpu_say_so_before_starting(clean_env):
    with pytest.raises(ConfigError, match=r"hardware.accelerator=gpu: no GPU is visible.*ddp_cpu"):
        plan.plan_launch(hardware("hardware=ddp"))
    with pytest.raises(ConfigError, match=r"hardware.devices=4: only 0 GPU"):
        plan.plan_launch(hardware("hardware=gpu", "hardware.devices=4"))


def test_under_slurm_each_task_is_a_rank_of_the_configured_size(clean_env):
    slurm_task(clean_env, procid=5, ntasks=8)
    rank_plan = plan.plan_launch(hardware("hardware=multinode"))  # 2 nodes x 4 devices
    assert (rank_plan.mode, rank_plan.rank, rank_plan.is_rank_zero) == (plan.RANK, 5, False)
    with pytest.raises(ConfigError, match=r"hardware.devices=2 x hardware.num_nodes=1: 2 ranks, .* 8 processes"):
        plan.plan_launch(hardware("hardware=ddp_cpu"))


def test_an_interactive_slurm_shell_is_not_a_rank(clean_env):
    slurm_task(clean_env, procid=0, ntasks=4, job_name="bash")
    assert plan.plan_launch(hardware("hardware=ddp_cpu")).mode == plan.LAUNCH


ENVIRONMENTS = [
    {},
    {"SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_JOB_NAME": "train"},
    {"SLURM_NTASKS": "4", "SLURM_PROCID": "0", "SLURM_JOB_NAME": "interactive"},
    {"RANK": "1", "GROUP_RANK": "0", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "2",
     "TORCHELASTIC_RUN_ID": "none"},
    {"RANK": "1", "WORLD_SIZE": "2"},
    {"LOCAL_RANK": "3"},
]


@pytest.mark.parametrize("variables", ENVIRONMENTS)
def test_rank_and_launcher_rules_agree_with_lightning(clean_env, variables):
    from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment
    from lightning.fabric.utilities.rank_zero import _get_rank

    for name, value in variables.items():
        clean_env.setenv(name, value)
    assert env.in_slurm_tasks() == SLURMEnvironment.detect()
    assert env.in_torchelastic() == TorchElasticEnvironment.detect()
    assert env.global_rank() == (_get_rank() or 0)


def test_strategy_for_started_ranks_uses_torchelastic_and_the_short_timeout(clean_env):
    from lightning.fabric.plugins.environments import TorchElasticEnvironment
    from lightning.pytorch.strategies import DDPStrategy

    from dlrun.distributed.strategies import build_strategy

    assert build_strategy(hardware("hardware=cpu")) == "auto"
    clean_env.setenv(env.LAUNCHER_VARIABLE, env.TORCHRUN)
    slurm_task(clean_env, procid=0, ntasks=1)  # inside a one-task SLURM job: still torchrun's ranks
    strategy = build_strategy(hardware("hardware=ddp_cpu"))
    assert isinstance(strategy, DDPStrategy)
    assert isinstance(strategy.cluster_environment, TorchElasticEnvironment)
    assert strategy._timeout == timedelta(seconds=60)


def test_hardware_knobs_are_validated_with_the_allowed_values():
    with pytest.raises(ConfigError, match=r"hardware.strategy='nope': expected one of: auto, ddp, fsdp"):
        validate(compose(["hardware.strategy=nope"]))
    with pytest.raises(ConfigError, match=r"hardware.num_nodes=0: expected an integer >= 1"):
        validate(compose(["hardware.num_nodes=0"]))
    with pytest.raises(ConfigError, match=r"hardware.matmul_precision='low'"):
        validate(compose(["hardware.matmul_precision=low"]))


def _data_module(rank: int, size: int = 101):
    from dlrun.data.module import DataModule
    from dlrun.data.splits import Splits

    module = DataModule(compose(["data.batch_size=64"]).data, seed=0)
    dataset = torch.utils.data.TensorDataset(torch.arange(size).float()[:, None], torch.arange(size))
    module.splits = Splits(spec=None, train=dataset, val=dataset, test=dataset)
    module.trainer = SimpleNamespace(world_size=2, global_rank=rank, current_epoch=0,
                                     strategy=SimpleNamespace(root_device=torch.device("cpu")))
    return module


def test_dataset_loaders_give_each_rank_its_share_and_evaluate_every_sample_once():
    seen = []
    for rank in (0, 1):
        module = _data_module(rank)
        assert module.train_dataloader().batch_size == 32  # the global batch is data.batch_size
        seen += [int(index) for _, targets in module.val_dataloader() for index in targets]
    assert sorted(seen) == list(range(101)), "no validation sample dropped or repeated"


def test_parent_marks_the_run_failed_with_the_first_failing_rank_when_rank_zero_wrote_nothing(tmp_path):
    cfg = compose(["hardware=ddp_cpu"])
    mark_failed(tmp_path, 1, "Traceback ...\nValueError: rank one broke")
    time.sleep(0.01)
    mark_failed(tmp_path, 0, "Traceback ...\nRuntimeError: Connection closed by peer")
    summary = settle_summary(cfg, tmp_path, returncode=1, interrupted=False, processes=2)
    assert summary["status"] == "failed"
    assert summary["error"].startswith("rank 1 of 2 failed first: ValueError: rank one broke")
    assert read_json(tmp_path / "summary.json")["error"] == summary["error"]
    assert [rank["status"] for rank in summary["ranks"]] == ["failed", "failed"]


def test_parent_names_the_ranks_that_vanished_without_a_word(tmp_path):
    cfg = compose(["hardware=ddp_cpu"])
    update_record(tmp_path, 0, status="completed")
    summary = settle_summary(cfg, tmp_path, returncode=1, interrupted=False, processes=2)
    assert summary["status"] == "failed"
    assert "rank(s) [1] ended without reporting" in summary["error"]
    (tmp_path / "ok").mkdir()
    completed = settle_summary(cfg, tmp_path / "ok", returncode=0, interrupted=False, processes=1)
    assert completed["status"] == "failed", "no summary from rank zero and no records: not a completed run"
