"""TensorBoard and MLflow: what a run and a sweep leave there, read back with each library's
own reader (TensorBoard's EventAccumulator, MLflow's client); the logger table; optuna-dashboard
on a sweep's study journal."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import TINY, git_repository, read_json, run_cli
from dlrun.base.errors import ConfigError
from dlrun.loggers.table import LOGGERS, build_loggers, finish_loggers, flat_config, logger_problems

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def readers():
    """MLflow's client and TensorBoard's event reader (the dev extra installs both)."""
    tracking = pytest.importorskip("mlflow.tracking", reason="pip install 'dlrun[mlflow]'")
    events = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                 reason="pip install 'dlrun[tensorboard]'")
    return tracking.MlflowClient, events.EventAccumulator


def tensorboard_hparams(events) -> tuple:
    """({key: HParam value} of the run's HParams plugin record, {its metric columns}), read
    with TensorBoard's own event reader and the plugin's protobuf."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    hparams, columns = {}, set()
    for content in events.PluginTagToContent("hparams").values():
        record = plugin_data_pb2.HParamsPluginData.FromString(content)
        if record.HasField("session_start_info"):
            hparams = dict(record.session_start_info.hparams)
        if record.HasField("experiment"):
            columns = {info.name.tag for info in record.experiment.metric_infos}
    return hparams, columns


def val_losses(run_dir: Path) -> list:
    with open(run_dir / "metrics.csv", newline="") as handle:
        return [float(row["val/loss"]) for row in csv.DictReader(handle) if row.get("val/loss")]


def test_logger_table_names_unknown_loggers_and_missing_packages(monkeypatch):
    import importlib.util

    assert logger_problems({"csv": True, "tensorboard": {}}) == []
    assert logger_problems({"tensorbord": {}}) == [
        "logger.tensorbord: unknown logger 'tensorbord'; valid: csv, mlflow, tensorboard, wandb (did you mean 'tensorboard'?)"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "mlflow" else real(name, *rest))
    assert logger_problems({"mlflow": {"tracking_uri": None}, "csv": False}) == [
        "logger.mlflow: needs the mlflow package: pip install 'dlrun[mlflow]'"]
    with pytest.raises(ConfigError, match="needs the mlflow package"):
        build_loggers(SimpleNamespace(logger={"mlflow": {}}), Path("."))


def test_every_logger_has_its_yaml_and_finish_keeps_wandb_in_the_summary():
    from dlrun.base.paths import config_dir

    yamls = {path.stem for path in (config_dir() / "logger").glob("*.yaml")}
    assert set(LOGGERS) <= yamls  # each entry can be chosen by name
    assert finish_loggers(None, {"wandb": None}) == {"wandb": None}
    assert flat_config({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "tags": {}}) == {
        "optim.lr": 0.1, "optim.betas": [0.9, 0.99], "tags": {}}


@pytest.mark.slow
def test_one_run_in_csv_tensorboard_and_mlflow_at_once_and_its_resume(tmp_path):
    MlflowClient, EventAccumulator = readers()

    run_dir = tmp_path / "run"
    commit = git_repository(tmp_path)
    result = run_cli([*TINY, "logger=[csv,tensorboard,mlflow]", "optim.lr=0.002", f"hydra.run.dir={run_dir}"],
                     cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.output[-3000:]
    summary = read_json(run_dir / "summary.json")
    losses = val_losses(run_dir)
    assert len(losses) == 2  # two epochs, one validation each

    events = EventAccumulator(str(run_dir / "tensorboard" / "mlp_digits"))
    events.Reload()
    assert {"train/loss", "val/loss", "val/acc", "lr"} <= set(events.Tags()["scalars"])
    assert [e.value for e in events.Scalars("val/loss")] == pytest.approx(losses, rel=1e-5)
    assert summary["tensorboard"]["dir"] == str(run_dir / "tensorboard" / "mlp_digits")
    hparams, metric_columns = tensorboard_hparams(events)
    assert hparams["optim.lr"].number_value == 0.002 and hparams["model.name"].string_value == "mlp"
    assert {"val/loss", "test/acc"} <= metric_columns  # the HParams table's columns: final and test metrics

    # the default store: beside the outputs in the working folder
    assert summary["mlflow"]["tracking_uri"] == f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}"
    client = MlflowClient(summary["mlflow"]["tracking_uri"])
    run = client.get_run(summary["mlflow"]["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "mlp_digits"
    assert run.data.params["optim.lr"] == "0.002" and run.data.params["model.name"] == "mlp"
    tags = run.data.tags  # MLflow's source fields, from the run's record
    assert tags["mlflow.source.name"] == read_json(run_dir / "record.json")["command"]
    assert "optim.lr=0.002" in tags["mlflow.source.name"]
    assert tags["mlflow.source.git.commit"] == commit and tags["mlflow.source.git.branch"] == "main"
    assert tags["dlrun.git.dirty"] == "false"  # the run's own outputs are untracked files, not changes
    history = client.get_metric_history(run.info.run_id, "val/loss")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(losses, rel=1e-5)
    assert run.data.metrics["test/acc"] == pytest.approx(summary["test"]["test/acc"])
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    plots = {item.path for item in client.list_artifacts(run.info.run_id, "plots")}
    assert "summary.json" in artifacts and "plots/curves.png" in plots

    resumed = run_cli(["resume", str(run_dir), "trainer.max_epochs=3"], cwd=tmp_path, env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert read_json(run_dir / "summary.json")["mlflow"]["run_id"] == run.info.run_id  # the same MLflow run, continued
    history = client.get_metric_history(run.info.run_id, "val/loss")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(val_losses(run_dir), rel=1e-5)
    assert len(history) == 3 and client.get_run(run.info.run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_sweep_gives_one_tracker_run_per_trial_grouped_by_sweep(tmp_path):
    MlflowClient, EventAccumulator = readers()

    sweep_dir = tmp_path / "lr_sweep"
    result = run_cli(["-m", *TINY, "logger=[tensorboard,mlflow]", "optim.lr=0.01,0.001",
                      f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.output[-3000:]
    summaries = [read_json(sweep_dir / str(trial) / "summary.json") for trial in range(2)]
    client = MlflowClient(summaries[0]["mlflow"]["tracking_uri"])
    runs = [client.get_run(summary["mlflow"]["run_id"]) for summary in summaries]
    assert [run.info.run_name for run in runs] == ["mlp_digits-0", "mlp_digits-1"]
    assert {run.data.tags["group"] for run in runs} == {"lr_sweep"}
    assert [run.data.params["optim.lr"] for run in runs] == ["0.01", "0.001"]
    grouped = client.search_runs([runs[0].info.experiment_id], "tags.group = 'lr_sweep'")
    assert {run.info.run_id for run in grouped} == {run.info.run_id for run in runs}
    for trial in range(2):  # named as the other trackers name the trial
        events = EventAccumulator(str(sweep_dir / str(trial) / "tensorboard" / f"mlp_digits-{trial}"))
        events.Reload()
        assert len(events.Scalars("val/loss")) == 2
        assert tensorboard_hparams(events)[0]["optim.lr"].number_value == [0.01, 0.001][trial]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_optuna_dashboard_reads_a_sweep_folder(tmp_path):
    import shutil

    import optuna

    from dlrun.sweeps.storage import Location
    from dlrun.sweeps.study import create_or_continue

    dashboard = shutil.which("optuna-dashboard")
    if dashboard is None:
        pytest.skip("optuna-dashboard is not installed (pip install 'dlrun[dashboard]')")
    sweep_dir = tmp_path / "lr_sweep"
    location = Location(sweep_dir)
    study = create_or_continue(location, "minimize", optuna.samplers.RandomSampler(seed=0), optuna.pruners.NopPruner(),
                               "val/loss")
    study.optimize(lambda trial: trial.suggest_float("optim.lr", 1e-4, 1e-1, log=True), n_trials=3)
    port = _free_port()
    server = subprocess.Popen([dashboard, str(location.journal), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listed = json.loads(_get_when_up(f"http://127.0.0.1:{port}/api/studies", server))["study_summaries"]
        detail = json.loads(_get_when_up(f"http://127.0.0.1:{port}/api/studies/{listed[0]['study_id']}", server))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [entry["study_name"] for entry in listed] == [study.study_name]
    assert detail["objective_names"] == ["val/loss"]  # the objective is named on the dashboard's axes


def _get_when_up(url: str, server, seconds: float = 120) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)
