"""What a person sees: the header, the epoch lines of a batch log, the result table, `--help`;
and what a batch log (CI, SLURM, `> log`) holds for a real run and a real sweep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from rich.console import Console

from dlrun.config.compose import compose, without_hydra
from dlrun.training.console import describe_device, header_lines, result_lines, result_table
from dlrun.sweeps.progress import SweepProgress
from dlrun.training.progress import epoch_line

# no carriage return (a redrawn bar) and no escape sequence (colour, cursor): \t and \n only
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SUMMARY = {"name": "mlp_digits", "status": "completed", "final": {"val/acc": 0.97125}, "test": {"test/acc": 0.9611},
           "objective": {"metric": "val/loss", "value": 0.1234}, "global_step": 460, "wall_time_s": 6.52,
           "run_dir": "outputs/runs/2025-01-01/10-55-40_mlp_digits_with_a_name_longer_than_a_table_cell",
           "best_checkpoint": "outputs/runs/2025-01-01/10-55-40_mlp_digits_with_a_name_longer_than_a_table_cell/"
                              "checkpoints/best.ckpt", "error": None}


def test_result_table_shows_the_status_in_brackets_and_the_numbers():
    console = Console(record=True, width=80)
    console.print(result_table(SUMMARY))
    text = console.export_text()
    assert "dlrun: mlp_digits [completed]" in text  # not eaten as a rich style tag, not wrapped
    assert "0.1234" in text and "460" in text and "6.5 s" in text and "0.9611" in text


def test_result_paths_are_printed_whole_and_absolute():
    lines = result_lines(SUMMARY)
    run_dir = Path(SUMMARY["run_dir"]).resolve()
    assert lines[0] == f"run folder: {run_dir}"
    assert lines[1] == f"best checkpoint: {run_dir / 'checkpoints' / 'best.ckpt'}"
    failed = result_lines({**SUMMARY, "best_checkpoint": None, "error": "Traceback ...\nValueError: bad shape\n"})
    assert failed[1:] == ["error: ValueError: bad shape"]


def test_header_names_the_folder_the_overrides_and_the_device(tmp_path):
    cfg = without_hydra(compose(["model=cnn", "hardware.threads=1"]))
    lines = header_lines(cfg, tmp_path, ["model=cnn", "hardware.threads=1"])
    assert lines == [f"dlrun cnn_digits: {tmp_path.resolve()}", "  overrides: model=cnn hardware.threads=1",
                     "  device:    cpu, 1 thread"]
    assert "none (the defaults" in header_lines(cfg, tmp_path, [])[1]


def test_device_line_names_gpus_strategy_and_precision():
    hardware = OmegaConf.create({"accelerator": "gpu", "devices": 4, "num_nodes": 2, "strategy": "ddp",
                                 "precision": "bf16-mixed", "threads": 1})
    assert describe_device(hardware) == "gpu x 4, 2 nodes, ddp, bf16-mixed"


def test_epoch_line_shows_train_and_val_metrics_only():
    line = epoch_line(3, 20, 60, {"train/loss": 0.21212, "val/acc": 0.96153, "grad_norm/body.0": 1.5, "lr": 0.001,
                                  "val/loss": float("nan")}, 2.06)
    assert line == "epoch 3/20  step 60  train/loss 0.2121  val/acc 0.9615  2.1 s"


def test_sweep_progress_counts_every_finished_trial_and_paces_the_eta_on_this_worker():
    now = [100.0]
    progress = SweepProgress(planned=12, done_at_start=2, clock=lambda: now[0])  # a continued sweep: 2 done before
    now[0] += 120.0
    assert progress.line(done=3, failed=0) == "sweep: 3/12 trials done, ETA 18 min"  # 120 s a trial, 9 left
    now[0] += 120.0
    assert progress.line(done=6, failed=2) == "sweep: 6/12 trials done (2 failed), ETA 6 min"  # 60 s a trial here
    assert progress.line(done=12, failed=2) == "sweep: 12/12 trials done (2 failed)"
    assert SweepProgress(3, 0, clock=lambda: 0.0).line(1, 0) == "sweep: 1/3 trials done, ETA < 1 min"
    slow = SweepProgress(100, 0, clock=lambda: now[0])
    now[0] += 600.0
    assert slow.line(1, 0) == "sweep: 1/100 trials done, ETA 16 h 30 min"


def test_help_lists_every_subcommand(cli):
    result = cli("--help")
    assert result.returncode == 0, result.output
    for command in ("ls", "show", "validate", "resume", "eval", "summary", "refine", "report"):
        assert re.search(rf"dlrun {command}\b", result.stdout), f"{command} missing from --help:\n{result.stdout}"


def _batch_log(result) -> list:
    """stdout and stderr of a captured (not a terminal) run, checked for control characters."""
    assert result.returncode == 0, result.output[-3000:]
    assert not CONTROL.search(result.output), repr(CONTROL.search(result.output))
    return result.output.splitlines()


@pytest.mark.slow
def test_a_default_run_writes_a_short_clean_batch_log(cli, tmp_path):
    lines = _batch_log(cli("hardware.threads=1", env={"WANDB_MODE": "offline"}))
    assert len(lines) < 60, "\n".join(lines)
    run_dir = next((tmp_path / "outputs" / "runs").glob("*/*"))
    assert lines[:3] == [f"dlrun mlp_digits: {run_dir}", "  overrides: hardware.threads=1", "  device:    cpu, 1 thread"]
    assert [line.split("  ")[0] for line in lines if line.startswith("epoch ")] == [f"epoch {n}/20" for n in range(1, 21)]
    assert any("dlrun: mlp_digits [completed]" in line for line in lines)
    assert f"run folder: {run_dir}" in lines
    assert not any(line.startswith(("model:", "optim:", "config")) for line in lines)  # no config tree


@pytest.mark.slow
def test_a_sweep_prints_its_own_lines_only_and_is_named_by_what_it_sweeps(cli, tmp_path):
    lines = _batch_log(cli("-m", "model=mlp,cnn", "optim.lr=0.01,0.001", "trainer.max_epochs=2", "hardware.threads=1",
                           env={"WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}))
    assert len(lines) < 120, "\n".join(lines)
    text = "\n".join(lines)
    for trial_noise in ("env_set", "Launching jobs", "#0 :", "overrides:", "epoch 1/2", "device:"):
        assert trial_noise not in text, text
    assert len([line for line in lines if line.startswith("trial ")]) == 4, text
    sweep = next((tmp_path / "outputs" / "sweeps").glob("*/*"))
    assert sweep.name.endswith("_mlp-cnn_digits_lr"), sweep
    assert sorted(path.parent.name for path in sweep.glob("*/summary.json")) == ["0", "1", "2", "3"]
    assert "epoch 2/2" in (sweep / "0" / "run.log").read_text()  # a trial's progress goes to its run.log
