"""hardware knobs that change how the network runs: torch.compile (CPU here) and, on a GPU,
bf16 mixed precision, compile and DDP over the node's GPUs. GPU tests skip without one."""

from __future__ import annotations

import pytest
import torch

import dlrun
from conftest import TINY

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none visible")


def checkpoint_keys(summary: dict) -> list:
    return list(torch.load(summary["last_checkpoint"], map_location="cpu", weights_only=False)["state_dict"])


@pytest.mark.slow
def test_compile_runs_the_compiled_network_and_keeps_plain_checkpoint_names(tmp_path):
    from torch._dynamo.utils import counters

    counters.clear()
    try:
        summary = dlrun.run([*TINY, "hardware.compile=true", "trainer.max_epochs=1", "trainer.test_after_fit=false"],
                            run_dir=tmp_path)
        graphs = counters["stats"]["unique_graphs"]
    finally:
        torch._dynamo.reset()
    assert summary["status"] == "completed", summary["error"]
    assert graphs > 0, "torch.compile never traced the network"
    keys = checkpoint_keys(summary)
    assert keys and not any("_orig_mod" in key for key in keys), keys


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("compile_", [False, True], ids=["eager", "compiled"])
def test_gpu_mixed_precision_and_compile_train(tmp_path, precision, compile_):
    summary = dlrun.run(["hardware=gpu", f"hardware.precision={precision}", f"hardware.compile={str(compile_).lower()}",
                         "trainer.max_epochs=3", "trainer.progress_bar=false"], run_dir=tmp_path)
    torch._dynamo.reset()
    assert summary["status"] == "completed", summary["error"]
    assert summary["final"]["val/acc"] > 0.8
    print(f"GPU {precision} compile={compile_}: val/acc {summary['final']['val/acc']:.4f}, "
          f"{summary['wall_time_s']:.1f} s for {summary['global_step']} steps")


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 or more CUDA GPUs")
@pytest.mark.parametrize("preset", ["ddp", "fsdp"])
def test_ranks_over_the_gpus_of_the_node(tmp_path, preset):
    summary = dlrun.run([f"hardware={preset}", "hardware.precision=bf16-mixed", "trainer.max_epochs=2",
                         "trainer.progress_bar=false"], run_dir=tmp_path)
    assert summary["status"] == "completed", summary["error"]
    assert [rank["status"] for rank in summary["ranks"]] == ["completed"] * torch.cuda.device_count()
