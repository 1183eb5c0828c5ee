"""Where this process stands in a group of ranks, read from what the launcher put in the
environment (torchrun: RANK / WORLD_SIZE; SLURM: SLURM_PROCID / SLURM_NTASKS).

No torch import: the parent process plans a launch without paying for it. The rules
mirror Lightning's own (`rank_zero_only`, SLURMEnvironment.detect,
TorchElasticEnvironment.detect) so that dlrun and Lightning agree on who rank zero is.
"""

from __future__ import annotations

import os

# Lightning's rank_zero_only reads the first of these that is set.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
TORCHELASTIC_VARIABLE = "TORCHELASTIC_RUN_ID"  # torch.distributed.is_torchelastic_launched
SLURM_INTERACTIVE_JOB_NAMES = ("bash", "interactive")
# Set by dlrun's parent process for the ranks it starts: they use the torchelastic
# environment even inside a SLURM allocation whose variables they inherit.
LAUNCHER_VARIABLE = "DLRUN_LAUNCHER"
TORCHRUN = "torchrun"


def global_rank() -> int:
    for name in RANK_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    return 0


def is_global_zero() -> bool:
    return global_rank() == 0


def launched_by_dlrun() -> bool:
    return os.environ.get(LAUNCHER_VARIABLE) == TORCHRUN


def in_slurm_tasks() -> bool:
    """SLURM started this process with srun/sbatch (not an interactive shell in an allocation)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in SLURM_INTERACTIVE_JOB_NAMES


def in_torchelastic() -> bool:
    return TORCHELASTIC_VARIABLE in os.environ


def external_world_size() -> int:
    """How many ranks an outside launcher started this process among (1: none did)."""
    if launched_by_dlrun() and in_torchelastic():
        return int(os.environ["WORLD_SIZE"])
    if in_slurm_tasks():
        return int(os.environ["SLURM_NTASKS"])
    if in_torchelastic():
        return int(os.environ.get("WORLD_SIZE", "1"))
    return 1
