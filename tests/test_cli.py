"""The `dlrun` command as a user types it: errors, listing, showing, Hydra's own flags."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from conftest import heavy_imports_after

BAD_INPUTS = [
    (["optim=sgd", "optim.lr=-1"], ["optim.lr=-1", "> 0"]),
    (["optim.lrr=0.1"], ["optim.lrr=0.1", "unknown key", "lr", "did you mean 'lr'"]),
    (["model=nope"], ["model=nope", "available", "mlp"]),
    (["data.batch_size=abc"], ["data.batch_size='abc'", "integer >= 1"]),
    (["model.dropout=1.0"], ["model.dropout=1.0", "< 1"]),
    (["trainer.max_epochs=0"], ["trainer.max_epochs=0", ">= 1"]),
    (["+optim.foo=1"], ["optim.foo=1", "not a knob of optim=adam", "betas"]),
]


@pytest.mark.parametrize("args, expected", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_naming_key_value_and_allowed(cli, tmp_path, args, expected):
    """How fast the error comes is benchmarks/startup.py's to measure, not a test's to assert."""
    result = cli(*args)
    assert result.returncode == 2, result.output
    for text in expected:
        assert text in result.stderr, f"{text!r} missing from: {result.stderr}"
    assert not (tmp_path / "outputs").exists(), "a rejected config must not create a run folder"


def test_config_errors_and_listing_do_not_import_torch(tmp_path):
    heavy, codes, stderr = heavy_imports_after([["ls"], ["validate"], ["show"], ["optim.lr=-1"]], tmp_path)
    assert heavy == [], stderr
    assert codes == [0, 0, 0, 2], stderr


def test_ls_lists_groups_options_defaults_and_descriptions(cli):
    result = cli("ls")
    assert result.returncode == 0, result.output
    for group in ("model", "data", "optim", "schedule", "init", "hardware", "logger", "callbacks"):
        assert group in result.stdout
    assert "adam (default)" in result.stdout
    assert "handwritten digits" in result.stdout
    only_optim = cli("ls", "optim")
    assert "momentum" in only_optim.stdout and "digits" not in only_optim.stdout
    assert cli("ls", "nope").returncode == 2


def test_show_prints_the_resolved_config_with_overrides(cli):
    result = cli("show", "optim=sgd", "optim.lr=0.25", "seed=7")
    assert result.returncode == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["optim"] == {**shown["optim"], "name": "sgd", "lr": 0.25}
    assert shown["seed"] == 7
    assert shown["name"] == "mlp_digits"  # interpolation resolved
    assert "hydra" not in shown


def test_validate_ok_and_failing(cli):
    ok = cli("validate", "optim=momentum")
    assert ok.returncode == 0 and "optim=momentum" in ok.stdout
    bad = cli("validate", "optim.lr=0")
    assert bad.returncode == 2 and "optim.lr=0" in bad.stderr


def test_every_subcommand_answers_help_with_its_line_of_the_table(cli):
    from dlrun.cli.main import SUBCOMMANDS

    for name in ("eval", "show", "report"):
        helped = cli(name, "--help")
        assert helped.returncode == 0, helped.output
        assert helped.stdout.startswith(f"usage: dlrun {name} {SUBCOMMANDS[name].arguments}")
        assert SUBCOMMANDS[name].help in helped.stdout


def test_hydra_flags_keep_working(cli):
    job = cli("--cfg", "job", "optim=sgd")
    assert job.returncode == 0, job.output
    assert yaml.safe_load(job.stdout)["optim"]["name"] == "sgd"
    helped = cli("--help")
    assert helped.returncode == 0, helped.output
    assert "dlrun ls" in helped.stdout  # dlrun's own subcommands are in Hydra's help
    optim_line = next(line for line in helped.stdout.splitlines() if line.startswith("optim:"))
    assert "adam" in optim_line and "momentum" in optim_line
    removed = cli("--cfg", "job", "~seed")
    assert removed.returncode == 0 and "seed" not in yaml.safe_load(removed.stdout)
    added = cli("--cfg", "job", "+trainer.extra_note=hello")
    assert yaml.safe_load(added.stdout)["trainer"]["extra_note"] == "hello"


def test_python_dash_m_and_console_script_are_the_same_command(tmp_path):
    result = subprocess.run(["dlrun", "validate"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("ok: model=mlp data=digits")


@pytest.mark.parametrize("args", [["--help"], ["usage"], ["show"], ["ls"], ["ls", "optim"]])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, args):
    """`dlrun --help | head -2`: the reader is gone before dlrun writes (here, closed before
    it starts, so every write fails): no traceback, nothing on stderr, a non-zero status."""
    import os
    import sys

    from conftest import cli_env

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=tmp_path, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300, env=cli_env())
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode != 0
    if args[0] != "ls":  # rich's console ends its own broken pipe with status 1
        assert done.returncode == 141
