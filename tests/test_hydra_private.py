"""The Hydra private API dlrun relies on (dlrun.base.hydra_private), checked on the installed
Hydra with a tiny config tree: after a Hydra upgrade, a failure here names the helper (or the
error message) to rewrite. Fast: no training, no subprocess."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import RunMode

from dlrun.base import hydra_private as private


@pytest.fixture
def tree(tmp_path) -> Path:
    """conf/config.yaml choosing db=a (db/a, db/b), and a group `other` outside the defaults list."""
    conf = tmp_path / "conf"
    for path, text in {"config.yaml": "defaults:\n  - db: a\n  - _self_\ntop: 1\n", "db/a.yaml": "x: 1\n",
                       "db/b.yaml": "x: 2\n", "other/a.yaml": "y: 1\n", "extra/db/c.yaml": "x: 3\n"}.items():
        (conf / path).parent.mkdir(parents=True, exist_ok=True)
        (conf / path).write_text(text)
    return conf


def _compose(tree: Path, overrides, name="config", mode=RunMode.RUN, extra=None):
    with private.app_hydra(str(tree), extra) as hydra:
        return hydra.compose_config(name, list(overrides), mode, from_shell=False)


def test_the_args_parser_reads_hydras_flags():
    parsed = private.args_parser().parse_args(["-m", "--cfg", "job", "--config-dir", "mine", "-cn", "exp", "a=1"])
    assert (parsed.multirun, parsed.cfg, parsed.config_dir, parsed.config_name, parsed.overrides) == \
        (True, "job", "mine", "exp", ["a=1"])
    flags = private.args_parser().parse_args(["--help"])
    assert flags.help and not (flags.hydra_help or flags.info or flags.shell_completion or flags.experimental_rerun)
    assert private.args_parser().parse_args(["-cp", "here"]).config_path == "here"


def test_the_primary_folder_is_read_relative_to_the_app_file(tmp_path):
    app_file = tmp_path / "pkg" / "app.py"
    assert Path(private.primary_config_dir(app_file, "conf")) == tmp_path / "pkg" / "conf"


def test_the_app_hydra_composes_sweeps_and_searches_the_extra_folder(tree):
    sweep = _compose(tree, ["top=1,2", "db=b"], mode=RunMode.MULTIRUN)  # a comma list: left to the sweeper
    assert (sweep.top, sweep.db.x) == (1, 2) and "hydra" in sweep
    assert _compose(tree, ["db=c"], extra=str(tree / "extra")).db.x == 3, "--config-dir's options are found"
    with pytest.raises(Exception):
        _compose(tree, ["top=1,2"])  # RUN mode refuses a sweep, as the app does


def test_the_basic_launchers_own_logger_is_the_one_quieted():
    import importlib
    import logging

    module = importlib.import_module(private.basic_launcher().__module__)
    assert module.log.name == private.BASIC_LAUNCHER_LOGGER  # a renamed module would bring its lines back
    module.log.setLevel(logging.NOTSET)
    private.quiet_basic_launcher()
    assert not module.log.isEnabledFor(logging.INFO) and module.log.isEnabledFor(logging.WARNING)


def test_the_basic_launcher_and_a_failed_jobs_exception():
    launcher = private.basic_launcher()
    assert launcher.__name__ == "BasicLauncher" and issubclass(launcher, Launcher)
    returned = JobReturn(status=JobStatus.FAILED, _return_value=ValueError("boom"))
    assert isinstance(private.job_exception(returned), ValueError)
    with pytest.raises(ValueError):
        returned.return_value  # noqa: B018 - the public property raises it


@pytest.mark.parametrize("overrides, kind, groups", [
    (["db=zzz"], "no_such_option", ("db", "zzz")),
    (["db.y=1"], "not_in_struct", ("db.y",)),
    (["db.y=1"], "unknown_key", ("db.y",)),
    (["other=a"], "not_in_defaults", ("other",)),
    (["+db.x=2"], "already_there", ("db.x",)),
    (["~db.nope"], "nothing_to_delete", ("db.nope",)),
])
def test_each_composition_error_message_is_read(tree, overrides, kind, groups):
    with pytest.raises(Exception) as raised:
        _compose(tree, overrides)
    found = private.error_says(kind, str(raised.value))
    assert found is not None and found.groups() == groups, str(raised.value)
    if kind == "no_such_option":
        assert private.options_listed(str(raised.value)) == ["a", "b"]


def test_missing_primary_config_and_folder_messages_are_read(tree, tmp_path):
    with pytest.raises(Exception) as raised:
        _compose(tree, [], name="missing")
    assert private.error_says("no_primary_config", str(raised.value)).group(1) == "missing"
    with pytest.raises(Exception) as raised:
        _compose(tmp_path / "absent", [])
    assert private.error_says("no_primary_folder", str(raised.value))


def test_the_duplicate_defaults_message_is_still_hydras():
    from hydra._internal import defaults_list

    text = inspect.getsource(defaults_list.ensure_no_duplicates_in_list)
    assert "appears more than once in the final defaults list" in text
    assert private.error_says("chosen_twice", "optim appears more than once in the final defaults list").group(1) == "optim"


def test_job_callbacks_are_made_from_the_configs_hydra_callbacks(tree, tmp_path):
    """dlrun runs a checked config through run_job with Hydra's callbacks object: it must take
    the composed config and call each configured callback's hooks."""
    (tree / "config.yaml").write_text("defaults:\n  - db: a\n  - _self_\ntop: 1\nhydra:\n  callbacks:\n    seen:\n"
                                      "      _target_: test_hydra_private.Recorder\n")
    cfg = _compose(tree, [])
    callbacks = private.job_callbacks(cfg)
    callbacks.on_run_start(config=cfg, config_name="config")
    callbacks.on_multirun_start(config=cfg, config_name="config")
    assert Recorder.calls == ["on_run_start", "on_multirun_start"]


class Recorder:
    calls: list = []

    def __init__(self):
        Recorder.calls.clear()

    def on_run_start(self, config, **kwargs):
        Recorder.calls.append("on_run_start")

    def on_multirun_start(self, config, **kwargs):
        Recorder.calls.append("on_multirun_start")


def test_reporting_errors_prints_a_compact_error_alone_and_exits_1(capsys):
    from hydra.errors import CompactHydraException

    assert private.reporting_errors(lambda: 7) == 7

    def stop():
        raise CompactHydraException("dlrun sweep: cannot start")

    with pytest.raises(SystemExit) as ended:
        private.reporting_errors(stop)
    printed = capsys.readouterr().err
    assert ended.value.code == 1 and printed.startswith("dlrun sweep: cannot start\n") and "Traceback" not in printed


def test_the_override_dirname_is_hydras_rule():
    """Sorted overrides but the excluded keys, item_sep between them, kv_sep for `=`: what Hydra
    records as hydra.job.override_dirname (a derived sweep trial records the same)."""
    from omegaconf import OmegaConf

    from dlrun.base.hydra_private import override_dirname
    from dlrun.config.overrides import parse_overrides

    cfg = OmegaConf.create({"hydra": {"job": {"config": {"override_dirname": {
        "kv_sep": ":", "item_sep": "/", "exclude_keys": ["seed"]}}}}})
    overrides = parse_overrides(["optim.lr=0.1", "seed=3", "model.width=32", "name='a=b'"])
    assert override_dirname(overrides, cfg) == "model.width:32/name:'a:b'/optim.lr:0.1"
