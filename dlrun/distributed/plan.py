"""How a config runs: one process, one rank of a group someone else started (SLURM,
torchrun), or a group of ranks this process starts. Decided before anything heavy runs."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import OmegaConf, open_dict

from dlrun.distributed.env import external_world_size, global_rank
from dlrun.base.errors import ConfigError

SINGLE, RANK, LAUNCH = "single", "rank", "launch"
GPU_ACCELERATORS = ("gpu", "cuda")


@dataclass(frozen=True)
class LaunchPlan:
    mode: str  # SINGLE | RANK | LAUNCH
    devices: int  # processes per node
    num_nodes: int
    rank: int = 0

    @property
    def is_rank_zero(self) -> bool:
        return self.rank == 0

    def apply(self, cfg):
        """The config with hardware.devices resolved to the number of processes per node."""
        cfg = OmegaConf.create(OmegaConf.to_container(cfg))
        with open_dict(cfg):
            cfg.hardware.devices = self.devices
        return cfg


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def resolve_devices(hardware) -> int:
    """hardware.devices as a number: 'auto' means every GPU for a GPU accelerator, else one."""
    accelerator, devices = hardware.accelerator, hardware.devices
    wants_gpu = accelerator in GPU_ACCELERATORS
    if devices == "auto":
        count = visible_gpus() if wants_gpu or accelerator == "auto" else 1
        if wants_gpu and count == 0:
            raise ConfigError([f"hardware.accelerator={accelerator}: no GPU is visible here; "
                               "hardware=cpu or hardware=ddp_cpu run on the CPU"])
        return max(1, count)
    if wants_gpu and devices > 1 and visible_gpus() < devices:
        raise ConfigError([f"hardware.devices={devices}: only {visible_gpus()} GPU(s) are visible here; "
                           "lower hardware.devices, or use hardware=ddp_cpu to run ranks on the CPU"])
    return devices


def _rank_plan(hardware, world_size: int) -> LaunchPlan:
    num_nodes = hardware.num_nodes
    devices = hardware.devices if hardware.devices != "auto" else world_size // num_nodes
    if devices * num_nodes != world_size:
        raise ConfigError([f"hardware.devices={hardware.devices} x hardware.num_nodes={num_nodes}: "
                           f"{devices * num_nodes} ranks, but the launcher started {world_size} processes "
                           "(SLURM: tasks per node must equal hardware.devices, nodes hardware.num_nodes)"])
    return LaunchPlan(RANK, devices, num_nodes, rank=global_rank())


def plan_launch(hardware) -> LaunchPlan:
    if hardware.strategy == "fsdp" and hardware.accelerator == "cpu":
        raise ConfigError(["hardware.strategy=fsdp with hardware.accelerator=cpu: Lightning's FSDP runs on GPUs "
                           "only; use hardware.strategy=ddp on the CPU"])
    world_size = external_world_size()
    if world_size > 1:
        return _rank_plan(hardware, world_size)
    num_nodes = hardware.num_nodes
    if num_nodes > 1:
        raise ConfigError([f"hardware.num_nodes={num_nodes}: a multi-node run starts one process per device on "
                           "every node; submit it with hydra/launcher=slurm (README: Running on a cluster)"])
    devices = resolve_devices(hardware)
    return LaunchPlan(SINGLE if devices == 1 else LAUNCH, devices, num_nodes)
