"""One compose -> validate pass per run: the config is validated once, before the run folder
exists, and the layers after it (the Hydra app, session, runner) trust it. Counted on real
runs: `dlrun.run()` in this process, and the `dlrun` command line in a fresh one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import TINY, cli_env

SHORT = [*TINY, "trainer.max_epochs=1", "hardware.threads=1"]


def counting_validations(monkeypatch) -> list:
    """A list that grows by one per validation (every validation starts with the config's
    shape: dlrun.config.validate looks structure_problems up when it runs)."""
    import dlrun.config.validate as validation

    calls, shape = [], validation.structure_problems
    monkeypatch.setattr(validation, "structure_problems", lambda cfg: calls.append(1) or shape(cfg))
    return calls


def test_plain_config_leaves_hydra_out_and_resolves():
    from dlrun.config.compose import compose, plain_config
    from dlrun.config.validate import validated

    composed = compose(["name=${model.name}_x"], return_hydra_config=True)
    plain = plain_config(composed)
    assert "hydra" not in plain and plain["name"] == "mlp_x" and isinstance(plain["optim"], dict)
    assert "hydra" in composed  # nothing removed from what was given
    assert validated(composed).name == "mlp_x"


@pytest.mark.slow
def test_dlrun_run_validates_once(tmp_path, monkeypatch):
    import dlrun

    calls = counting_validations(monkeypatch)
    summary = dlrun.run(SHORT, run_dir=tmp_path / "run")
    assert summary["status"] == "completed"
    assert len(calls) == 1


PROBE = """
import json, sys
import dlrun.config.validate as validation
calls, shape = [], validation.structure_problems
validation.structure_problems = lambda cfg: calls.append(1) or shape(cfg)
from dlrun.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    print(json.dumps({"code": end.code, "validations": len(calls)}))
"""


@pytest.mark.slow
def test_the_command_line_run_validates_once(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", PROBE, *SHORT, f"hydra.run.dir={run_dir}"], cwd=tmp_path,
                          capture_output=True, text=True, env=cli_env(), timeout=600)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"code": 0, "validations": 1}, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"


def test_the_app_validates_only_what_no_one_checked_before():
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from dlrun.cli.app import _checked_before

    def job(mode, sweeper):
        return OmegaConf.create({"mode": mode, "sweeper": {"_target_": sweeper}})

    assert _checked_before(job(RunMode.RUN, "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"))
    assert _checked_before(job(RunMode.MULTIRUN, "hydra_plugins.dlrun_sweeper.sweeper.DlrunSweeper"))
    assert not _checked_before(job(RunMode.MULTIRUN, "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"))


@pytest.mark.slow
def test_a_population_validates_each_trial_once_as_single_trials_do(tmp_path):
    """The sweeper validates each trial's config; neither a trial's Hydra job nor the
    population launcher checks it again: both launchers count the same validations."""
    counts = {}
    for launcher in ("basic", "population"):
        sweep_dir = tmp_path / launcher
        done = subprocess.run([sys.executable, "-c", PROBE, "-m", *SHORT, f"launcher={launcher}",
                               "optim.lr=0.01,0.003", f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path,
                              capture_output=True, text=True, env=cli_env(), timeout=600)
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        assert outcome["code"] in (0, None), done.stdout[-2000:] + done.stderr[-2000:]
        statuses = [json.loads((sweep_dir / str(n) / "summary.json").read_text())["status"] for n in (0, 1)]
        assert statuses == ["completed", "completed"]
        counts[launcher] = outcome["validations"]
    # before Hydra starts, the command line's precheck: the probe point (lr 0.01) and the other
    # choice (0.003); then the sweeper once per trial (2); no job or launcher again
    assert counts == {"basic": 4, "population": 4}, counts


COMPOSE_PROBE = """
import json, sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl  # Hydra's loader: every composition passes here
calls, load = [], ConfigLoaderImpl._load_configuration_impl
ConfigLoaderImpl._load_configuration_impl = lambda self, *a, **k: calls.append(1) or load(self, *a, **k)
from dlrun.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    print(json.dumps({"code": end.code, "compositions": len(calls)}))
"""


def _compositions(args, cwd) -> dict:
    done = subprocess.run([sys.executable, "-c", COMPOSE_PROBE, *args], cwd=cwd, capture_output=True, text=True,
                          env=cli_env(), timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"stderr": done.stderr[-2000:]}


@pytest.mark.slow
def test_a_run_composes_once_and_a_two_trial_sweep_three_times(tmp_path):
    """The precheck's composition is the run's config (Hydra's app would compose it twice
    more); a sweep composes its base once and its first trial once; a trial that only sets other
    values is set from the last composed one (dlrun.sweeps.trial_config), not composed again."""
    run_dir, sweep_dir, space_dir = tmp_path / "run", tmp_path / "sweep", tmp_path / "space"
    assert _compositions([*SHORT, f"hydra.run.dir={run_dir}"], tmp_path) == {"code": 0, "compositions": 1}
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    swept = _compositions(["-m", *SHORT, "optim.lr=0.01,0.003", f"hydra.sweep.dir={sweep_dir}"], tmp_path)
    assert swept == {"code": 0, "compositions": 2}, swept
    searched = _compositions(["-m", *SHORT, "optim.lr=tag(log, interval(1e-3, 1e-1))", "hydra.sweeper.n_trials=2",
                              f"hydra.sweep.dir={space_dir}"], tmp_path)
    assert searched == {"code": 0, "compositions": 2}, searched
    groups = _compositions(["-m", *SHORT, "optim=sgd,momentum", f"hydra.sweep.dir={tmp_path / 'groups'}"], tmp_path)
    # the base, the precheck's point for each option (a group's option is a new tree), each trial
    assert groups == {"code": 0, "compositions": 5}, f"a group's option is composed by Hydra: {groups}"
    for folder in (sweep_dir, space_dir):
        statuses = [json.loads((folder / str(n) / "summary.json").read_text())["status"] for n in (0, 1)]
        assert statuses == ["completed", "completed"]
