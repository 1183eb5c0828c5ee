"""Multi-process training end to end: real `torch.distributed.run` ranks on the CPU over gloo,
started by the real CLI (hardware=ddp_cpu: 2 ranks)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import REPO, read_json

# Few steps, full validation set (the accuracy check needs every val sample).
DDP_TINY = ["hardware=ddp_cpu", "trainer.max_epochs=2", "trainer.limit_train_batches=4", "trainer.limit_test_batches=2",
            "trainer.progress_bar=false"]
# 63 is odd: every global batch splits 32/31 between the ranks, so the ranks see different
# numbers of validation samples (137 and 133) and a mean of per-rank means would be biased.
ODD_BATCH = "data.batch_size=63"


def summaries(root: Path) -> list:
    return sorted(root.rglob("summary.json"))


def rank_records(run_dir: Path) -> list:
    return [read_json(path) for path in sorted((run_dir / "ranks").glob("rank-*.json"))]


def evaluate_checkpoint_in_one_process(summary: dict, checkpoint: Path) -> dict:
    """Accuracy and loss of the checkpoint over the whole validation split, no DDP."""
    from dlrun.training.runner import build_components

    cfg = OmegaConf.create(summary["config"])
    datamodule, task = build_components(cfg)
    task.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"])
    task.eval()
    inputs, targets = datamodule.splits.val
    with torch.no_grad():
        outputs = task(inputs)
    correct = outputs.argmax(-1) == targets
    return {"acc": correct.float().mean().item(), "loss": torch.nn.functional.cross_entropy(outputs, targets).item(),
            "correct": correct, "batch_size": cfg.data.batch_size}


def mean_of_rank_means(correct: torch.Tensor, batch_size: int) -> float:
    """What an unweighted average of the two ranks' accuracies would report."""
    shares = [[], []]
    for batch in torch.arange(len(correct)).split(batch_size):
        for rank, part in enumerate(batch.tensor_split(2)):
            shares[rank].append(part)
    return sum(correct[torch.cat(share)].float().mean().item() for share in shares) / 2


@pytest.mark.slow
def test_ddp_cpu_is_one_run_whose_val_acc_equals_a_single_process_evaluation(cli, tmp_path):
    result = cli(*DDP_TINY, ODD_BATCH)
    assert result.returncode == 0, result.output[-4000:]
    found = summaries(tmp_path / "outputs")
    assert len(found) == 1, found
    run_dir = found[0].parent
    assert [path.name for path in (tmp_path / "outputs" / "runs").glob("*/*")] == [run_dir.name]
    summary = read_json(found[0])
    assert summary["status"] == "completed"
    assert summary["global_step"] == 2 * 4
    # the final result is printed once (rank zero), not once per rank
    assert result.stdout.count("dlrun: mlp_digits") == 1 and result.stdout.count("best val/loss") == 1
    assert result.output.count("summary: ") == 1
    device = read_json(run_dir / "record.json")["device"]  # the run's record, written once for its ranks
    assert (device["processes"], device["devices"], device["strategy"]) == (2, 2, "ddp")

    records = rank_records(run_dir)
    assert [record["rank"] for record in records] == [0, 1]
    for record in records:
        assert record["status"] == "completed" and record["world_size"] == 2
        # started by torch.distributed.run: Lightning saw torchelastic and did not spawn
        assert record["cluster_environment"] == "TorchElasticEnvironment"
        assert record["strategy"] == "DDPStrategy"
    assert [record["train_batch_size"] for record in records] == [32, 31]  # shares of the global 63
    assert records[0]["pid"] != records[1]["pid"]

    evaluation = evaluate_checkpoint_in_one_process(summary, run_dir / "checkpoints" / "last.ckpt")
    assert summary["final"]["val/acc"] == pytest.approx(evaluation["acc"], abs=1e-6)
    assert summary["final"]["val/loss"] == pytest.approx(evaluation["loss"], rel=1e-5)
    # the check is sharp: averaging the two ranks' accuracies would have given another number
    naive = mean_of_rank_means(evaluation["correct"], evaluation["batch_size"])
    assert naive != pytest.approx(evaluation["acc"], abs=1e-6)


def _sweep_variants():
    comma = pytest.param(["optim.lr=0.001,0.01,0.1"], {0.001, 0.01, 0.1}, id="comma-list")
    if not (REPO / "hydra_plugins" / "dlrun_sweeper").is_dir():
        reason = "the dlrun Optuna sweeper plugin (hydra_plugins/dlrun_sweeper) is not there yet"
        return [comma, pytest.param([], None, id="random-sampler", marks=pytest.mark.skip(reason=reason))]
    space = ["optim.lr=tag(log, interval(1e-4, 1e-1))", "hydra.sweeper.n_trials=3", "hydra.sweeper.sampler=random"]
    return [pytest.param(space, None, id="random-sampler")]


@pytest.mark.slow
@pytest.mark.parametrize("search, expected_lrs", _sweep_variants())
def test_sweep_trials_are_one_folder_and_both_ranks_train_the_trial_lr(cli, tmp_path, search, expected_lrs):
    result = cli("-m", *DDP_TINY, "trainer.limit_val_batches=2", *search)
    assert result.returncode == 0, result.output[-4000:]
    assert not (tmp_path / "outputs" / "runs").exists(), "ranks must not start runs of their own"
    sweeps = list((tmp_path / "outputs" / "sweeps").glob("*/*"))
    assert len(sweeps) == 1, sweeps
    trials = summaries(sweeps[0])
    assert len(trials) == 3, trials
    used = set()
    for path in trials:
        summary = read_json(path)
        assert summary["status"] == "completed", summary["error"]
        records = rank_records(path.parent)
        assert len(records) == 2
        rank_lrs = [record["lr"] for record in records]
        assert rank_lrs[0] == rank_lrs[1] == summary["config"]["optim"]["lr"], rank_lrs
        used.add(rank_lrs[0])
    if expected_lrs is not None:
        assert used == expected_lrs
    else:
        assert len(used) == 3 and all(1e-4 <= lr <= 1e-1 for lr in used)


@pytest.mark.slow
def test_a_crashing_rank_ends_the_run_as_failed_with_its_error(cli, tmp_path):
    # DLRUN_TEST_CRASH_RANK: test-only hook in dlrun/distributed/callbacks.py (rank 1 raises after 2 batches)
    # a collective timeout far beyond the subprocess's limit: a parent that waited for the
    # surviving rank to time out would not return in time (TimeoutExpired fails the test)
    result = cli(*DDP_TINY, "hardware.timeout_s=3600", env={"DLRUN_TEST_CRASH_RANK": "1"}, timeout=600)
    assert result.returncode == 1, result.output[-4000:]
    (path,) = summaries(tmp_path / "outputs")
    summary = read_json(path)
    assert summary["status"] == "failed"
    assert summary["error"].startswith("rank 1 of 2 failed first: RuntimeError: DLRUN_TEST_CRASH_RANK")
    assert "crashed on purpose" in result.stdout  # the result table shows the error
    records = {record["rank"]: record for record in rank_records(path.parent)}
    assert records[1]["status"] == "failed" and records[0]["status"] != "completed"
