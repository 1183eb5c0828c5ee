"""The strategy table (cfg.hardware.strategy -> Lightning strategy) and its factory.

Names are readable without torch (validation lists them); the class is imported only
when a trainer is built.
"""

from __future__ import annotations

from datetime import timedelta

from dlrun.distributed.env import launched_by_dlrun
from dlrun.base.options import load_object, lookup

# name -> "module:Class" taking (cluster_environment=, timeout=); None: Lightning's default.
STRATEGIES: dict[str, str | None] = {
    "auto": None,
    "ddp": "lightning.pytorch.strategies:DDPStrategy",
    "fsdp": "lightning.pytorch.strategies:FSDPStrategy",
}


def cluster_environment():
    """The ranks dlrun's parent started read their place from torchrun's variables, also
    inside a SLURM allocation (Lightning would otherwise pick SLURM's and see one task)."""
    if not launched_by_dlrun():
        return None  # Lightning detects SLURM / torchelastic itself
    from lightning.fabric.plugins.environments import TorchElasticEnvironment

    return TorchElasticEnvironment()


def build_strategy(hardware):
    """A Lightning strategy for cfg.hardware (devices already resolved to a number).

    One process in all: Lightning's default. Several with strategy=auto: DDP.
    """
    processes = hardware.devices * hardware.num_nodes if isinstance(hardware.devices, int) else 1
    name = hardware.strategy
    if processes == 1:
        return "auto"
    if name == "auto":
        name = "ddp"
    cls = load_object(lookup(STRATEGIES, "hardware.strategy", name))
    # a short process-group timeout: a rank stuck in a collective fails instead of hanging
    return cls(cluster_environment=cluster_environment(), timeout=timedelta(seconds=hardware.timeout_s))
