"""Weights & Biases, offline (no network here): the mode chosen from the config, WANDB_MODE
and credentials; one run per sweep trial, grouped by sweep, read back from W&B's own run
files; the run id kept in summary.json and reused by `dlrun resume`; rank zero only; no
API key in any output."""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from types import SimpleNamespace

import pytest

from dlrun.training.summary import new_summary

from conftest import TINY, git_repository, read_json, run_cli
from dlrun.config.compose import compose, without_hydra
from dlrun.loggers import wandb_logger as wl
from test_sweep_cli import ONE_THREAD

SECRET = "0123456789abcdef0123456789abcdef01234567"  # shaped like a W&B API key; must never be written


def wandb_records(run_folder: Path) -> list:
    """The protobuf records of an offline run's run-ID.wandb file (W&B's LevelDB-style log:
    a 7-byte file header, then 32 KiB blocks of [crc32, length, type] chunks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = next(Path(run_folder).glob("run-*.wandb")).read_bytes()
    assert data[:4] == b":W&B"
    block, position, pending, records = 32768, 7, b"", []
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a chunk header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        chunk, position = data[position + 7:position + 7 + length], position + 7 + length
        if kind == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk  # 1 full, 2 first, 3 middle, 4 last
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def offline_run(run_folder: Path) -> dict:
    """What an offline run holds: id, group, name, config (top level keys as JSON), summary keys."""
    import json

    found = {"summary": {}}
    for record in wandb_records(run_folder):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            found.update(id=record.run.run_id, group=record.run.run_group, name=record.run.display_name,
                         config={item.key: json.loads(item.value_json) for item in record.run.config.update},
                         commit=record.run.git.commit)
        elif kind == "summary":
            found["summary"].update({item.key: json.loads(item.value_json) for item in record.summary.update})
    return found


def test_mode_from_config_environment_and_credentials(tmp_path, monkeypatch):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    mode, why = wl.resolve_mode(None)
    assert mode == "offline" and "no W&B credentials found" in why and "wandb login" in why
    (tmp_path / "netrc").write_text(f"machine api.wandb.ai\n  login user\n  password {SECRET}\n")
    (tmp_path / "netrc").chmod(0o600)
    assert wl.resolve_mode(None) == ("online", "credentials found")
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert wl.resolve_mode(None) == ("offline", "WANDB_MODE=dryrun")
    assert wl.resolve_mode("disabled") == ("disabled", "logger.wandb.mode=disabled")
    monkeypatch.setenv("WANDB_MODE", "")
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    assert wl.resolve_mode(None) == ("online", "credentials found")


def test_offline_is_said_once_with_the_sync_command(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(wl, "_offline_told", False)
    cfg = without_hydra(compose(["logger=wandb", "logger.wandb.tags=[a,b]"]))
    with caplog.at_level(logging.WARNING, logger="dlrun"):
        first = wl.wandb_logger(cfg, tmp_path / "one")
        wl.wandb_logger(cfg, tmp_path / "two")
    notices = [r.getMessage() for r in caplog.records if "W&B is offline" in r.getMessage()]
    assert len(notices) == 1 and f"wandb sync {tmp_path / 'one'}/wandb/offline-run-*" in notices[0]
    init = first._wandb_init
    assert (init["mode"], init["project"], init["name"], init["tags"], init["job_type"]) == (
        "offline", "dlrun", "mlp_digits", ["a", "b"], "train")
    assert init["config"]["optim"]["lr"] == cfg.optim.lr and "hydra" not in init["config"]


def test_run_id_comes_back_from_summary_json(tmp_path):
    assert wl.previous_run_id(tmp_path) is None
    (tmp_path / "summary.json").write_text('{"status": "interrupted", "wandb": {"id": "abc123", "mode": "offline"}}')
    assert wl.previous_run_id(tmp_path) == "abc123"


def test_only_rank_zero_creates_a_run(tmp_path, monkeypatch, caplog):
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # as Lightning sets it in a rank-1 process
    logger = wl.wandb_logger(without_hydra(compose(["logger=wandb"])), tmp_path)
    logger.log_metrics({"val/loss": 1.0}, step=0)
    assert type(logger.experiment).__name__.endswith("DummyExperiment")
    summary = {**new_summary("x", tmp_path, {}, "val/loss"), "status": "completed", "wall_time_s": 1.0,
               "global_step": 1, "epochs": 1}
    # a whole summary: None must come from the rank check, not from a failure inside finishing
    assert wl.finish_wandb(SimpleNamespace(loggers=[logger]), summary) is None
    assert "could not finish" not in caplog.text
    assert not (tmp_path / "wandb").exists()


@pytest.mark.slow
def test_sweep_gives_one_offline_run_per_trial_in_one_group(tmp_path):
    sweep_dir = tmp_path / "lr_sweep"
    commit = git_repository(tmp_path)
    result = run_cli(["-m", *TINY, "logger=csv_wandb", "optim.lr=0.01,0.003,0.001", f"hydra.sweep.dir={sweep_dir}"],
                     cwd=tmp_path, env={**ONE_THREAD, "WANDB_MODE": "offline", "WANDB_API_KEY": SECRET})
    assert result.returncode == 0, result.output[-3000:]
    runs = {}
    for number in range(3):
        summary = read_json(sweep_dir / str(number) / "summary.json")
        folders = list((sweep_dir / str(number) / "wandb").glob("offline-run-*"))
        assert len(folders) == 1 and summary["wandb"]["dir"] == str(folders[0])
        runs[number] = offline_run(folders[0])
        assert runs[number]["id"] == summary["wandb"]["id"] and summary["wandb"]["mode"] == "offline"
        assert runs[number]["config"]["optim"]["lr"] == summary["config"]["optim"]["lr"]
        recorded = runs[number]["config"]["dlrun_record"]  # the trial's record, as W&B keeps it
        assert recorded["command"] == read_json(sweep_dir / str(number) / "record.json")["command"]
        assert recorded["commit"] == commit == runs[number]["commit"] and recorded["branch"] == "main"
        assert runs[number]["summary"]["best_objective/val/loss"] == pytest.approx(summary["objective"]["value"])
        assert (sweep_dir / str(number) / "metrics.csv").is_file(), "csv alongside W&B"
    assert [runs[n]["config"]["optim"]["lr"] for n in range(3)] == [0.01, 0.003, 0.001]
    assert {run["group"] for run in runs.values()} == {"lr_sweep"}
    assert [run["name"] for run in runs.values()] == ["mlp_digits-0", "mlp_digits-1", "mlp_digits-2"]
    assert len({run["id"] for run in runs.values()}) == 3
    assert result.output.count("W&B is offline (WANDB_MODE=offline)") == 1
    assert f"wandb sync {sweep_dir}/*/wandb/offline-run-*" in result.stdout
    leaks = [str(path) for path in tmp_path.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert not leaks and SECRET not in result.output, f"API key written to {leaks}"


@pytest.mark.slow
def test_resume_continues_the_same_wandb_run_offline_without_credentials(tmp_path, monkeypatch):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)  # the subprocess inherits this environment
    env = {**ONE_THREAD, "HOME": str(tmp_path / "home"), "NETRC": str(tmp_path / "home" / ".netrc")}
    run_dir = tmp_path / "run"
    first = run_cli([*TINY, "logger=wandb", f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=env)
    assert first.returncode == 0, first.output[-3000:]
    assert "W&B is offline (no W&B credentials found" in first.output and "wandb sync" in first.output
    run_id = read_json(run_dir / "summary.json")["wandb"]["id"]
    resumed = run_cli(["resume", str(run_dir), "trainer.max_epochs=3"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.output[-3000:]
    summary = read_json(run_dir / "summary.json")
    assert summary["wandb"]["id"] == run_id and summary["global_step"] == 15
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and all(folder.name.endswith(f"-{run_id}") for folder in folders)
    assert offline_run(folders[-1])["summary"]["global_step"] == 15


def _closed_port() -> int:
    """A localhost port nothing listens on (bound, then released): connections are refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_server_gives_a_bounded_start_then_offline_in_one_line(tmp_path):
    """An API key and no network (the W&B server URL a closed localhost port): the run does
    not hang on W&B's retries; after WANDB_INIT_TIMEOUT it goes on offline, saying so once."""
    env = {**ONE_THREAD, "WANDB_MODE": "", "WANDB_API_KEY": SECRET, "WANDB_INIT_TIMEOUT": "5",
           "WANDB_BASE_URL": f"http://127.0.0.1:{_closed_port()}", "HOME": str(tmp_path / "home")}
    run_dir = tmp_path / "run"
    result = run_cli([*TINY, "logger=wandb", f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.output[-3000:]
    told = [line for line in result.output.splitlines() if "could not start online" in line]
    assert len(told) == 1 and "127.0.0.1" in told[0] and "within 5 s" in told[0], result.output[-3000:]
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "completed" and summary["wandb"]["mode"] == "offline"
    assert offline_run(Path(summary["wandb"]["dir"]))["summary"]["global_step"] == summary["global_step"] == 10
    leaks = [str(path) for path in tmp_path.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert not leaks and SECRET not in result.output, f"API key written to {leaks}"
