"""Callbacks that cfg.hardware adds to the Trainer (factories listed in dlrun.training.trainer)."""

from __future__ import annotations

import os
import socket
import traceback

from lightning.pytorch.callbacks import Callback

from dlrun.distributed.env import external_world_size, launched_by_dlrun
from dlrun.distributed.records import mark_failed, update_record

# Test-only hook: the rank whose number this variable holds raises after its second
# training batch, so tests can show that a dead rank ends the group quickly and fails the run.
CRASH_RANK_VARIABLE = "DLRUN_TEST_CRASH_RANK"


def _optimizer_hyperparameters(optimizer) -> list:
    """Each parameter group's settings without the tensors; `initial_lr` (set by the
    schedulers) is the configured rate, `lr` the current one."""
    return [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]


class RankRecord(Callback):
    """Writes what this rank trained with into ranks/rank-<N>.json, and when it failed."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.recorded = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.recorded:
            return
        self.recorded = True
        groups = _optimizer_hyperparameters(trainer.optimizers[0])
        update_record(
            self.run_dir, trainer.global_rank, world_size=trainer.world_size, local_rank=trainer.local_rank,
            node_rank=trainer.node_rank, hostname=socket.gethostname(), pid=os.getpid(),
            cluster_environment=type(trainer.strategy.cluster_environment).__name__,
            strategy=type(trainer.strategy).__name__, lr=groups[0].get("initial_lr", groups[0]["lr"]),
            optimizer=type(trainer.optimizers[0]).__name__, param_groups=groups,
            train_batch_size=len(batch[0]), seed=int(os.environ.get("PL_GLOBAL_SEED", -1)),
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 1 and os.environ.get(CRASH_RANK_VARIABLE) == str(trainer.global_rank):
            raise RuntimeError(f"{CRASH_RANK_VARIABLE}: rank {trainer.global_rank} crashed on purpose")

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, KeyboardInterrupt):
            return  # an interruption, not a failure
        # the moment of failure, before teardown lets the other ranks notice and fail too
        mark_failed(self.run_dir, trainer.global_rank, "".join(traceback.format_exception(exception)))


def rank_record_callback(cfg, run_dir):
    return RankRecord(run_dir) if launched_by_dlrun() or external_world_size() > 1 else None


class CompileModel(Callback):
    """torch.compile the network in place (nn.Module.compile) before the strategy wraps it:
    checkpoints keep plain parameter names and load into an uncompiled model."""

    def setup(self, trainer, pl_module, stage):
        if getattr(pl_module.model, "_compiled_call_impl", None) is None:
            pl_module.model.compile()


def compile_callback(cfg, run_dir):
    return CompileModel() if cfg.hardware.compile else None
