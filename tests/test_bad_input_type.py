"""One bad-input type and one printer: every bad-input exception of dlrun is a BadInput, and
nothing but dlrun.base.errors prints it and exits 2; the subcommands come from one table,
each wrapped by that printer."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from conftest import REPO, heavy_imports_after, run_cli
from dlrun.base.errors import (BadInput, CheckpointError, ConfigError, exiting_on_bad_input, print_bad_input,
                               refusing_bad_input)
from dlrun.cli.main import RUN, SUBCOMMANDS, entry_point, usage

SOURCES = [path for folder in ("dlrun", "hydra_plugins") for path in sorted((REPO / folder).rglob("*.py"))]
PRINTER = REPO / "dlrun" / "base" / "errors.py"

BAD_INPUT_CLASSES = {
    "dlrun.base.errors": ["ConfigError", "CheckpointError"],
    "dlrun.base.ownership": ["FolderTaken"],
    "dlrun.training.run_folder": ["UsageError"],
    "dlrun.report.settings": ["ReportError"],
    "dlrun.sweeps.settings": ["SweepSettingsError"],
    "dlrun.sweeps.space": ["SearchSpaceError"],
    "dlrun.sweeps.refine": ["RefineError"],
    "dlrun.sweeps.study": ["StudyNameClash", "NotASweep"],
    "dlrun.sweeps.storage": ["StorageError"],
}


@pytest.mark.parametrize("module", sorted(BAD_INPUT_CLASSES))
def test_each_bad_input_class_is_the_one_type(module):
    for name in BAD_INPUT_CLASSES[module]:
        assert issubclass(getattr(importlib.import_module(module), name), BadInput), f"{module}.{name}"


def _value_error_classes(path: Path) -> list:
    """Classes in `path` deriving from ValueError (or FileNotFoundError) directly."""
    tree = ast.parse(path.read_text())
    return [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(isinstance(base, ast.Name) and base.id in ("ValueError", "FileNotFoundError") for base in node.bases)]


def test_no_other_exception_class_stands_for_bad_input():
    found = {str(path.relative_to(REPO)): _value_error_classes(path) for path in SOURCES}
    assert {path: names for path, names in found.items() if names} == {"dlrun/base/errors.py": ["BadInput"]}


def test_only_the_printer_exits_2():
    exits = re.compile(r"exit\(2\)|return 2\b|SystemExit\(2\)|\.exit\(EXIT_BAD_INPUT\)")
    offenders = [f"{path.relative_to(REPO)}:{number}: {line.strip()}" for path in SOURCES if path != PRINTER
                 for number, line in enumerate(path.read_text().splitlines(), 1) if exits.search(line)]
    assert offenders == []


def test_the_printer_writes_the_lines_and_exit_status(capsys):
    assert print_bad_input(ConfigError(["optim.lr=nan: expected a finite number > 0", "seed=-1: expected >= 0"])) == 2
    assert capsys.readouterr().err == ("dlrun: config error:\n  optim.lr=nan: expected a finite number > 0\n"
                                       "  seed=-1: expected >= 0\n")
    assert print_bad_input(CheckpointError("best.ckpt: corrupt"), "eval") == 2
    assert capsys.readouterr().err == "dlrun eval: best.ckpt: corrupt\n"

    @refusing_bad_input("summary")
    def summary(args):
        raise BadInput(f"{args[0]}: no study.journal")

    assert summary(["x"]) == 2 and capsys.readouterr().err == "dlrun summary: x: no study.journal\n"
    with pytest.raises(SystemExit) as ended, exiting_on_bad_input("sweep"):
        raise ConfigError(["hydra.sweeper.n_trials=0: expected an integer >= 1"])
    assert ended.value.code == 2
    assert capsys.readouterr().err == "dlrun sweep: config error:\n  hydra.sweeper.n_trials=0: expected an integer >= 1\n"


def test_bad_input_crosses_processes_with_its_lines():
    import pickle

    error = pickle.loads(pickle.dumps(ConfigError(["a=1: too small", "b=2: too big"])))
    assert type(error) is ConfigError and error.problems == ["a=1: too small", "b=2: too big"]


def test_every_subcommand_comes_from_the_table_and_refuses_through_the_printer():
    printer_wrapper = refusing_bad_input()(lambda args: 0).__code__  # every wrapped main runs this code
    for name, entry in {**SUBCOMMANDS, "": RUN}.items():
        main = entry_point(entry)
        assert main.__code__ is printer_wrapper, f"{name or 'run'}: {entry.target} not refusing_bad_input"
    text = usage()
    for name, entry in SUBCOMMANDS.items():
        assert f"dlrun {name} {entry.arguments}" in text and entry.help in text


def test_help_lists_the_table_without_importing_torch(tmp_path):
    heavy, codes, _ = heavy_imports_after([["--help"], ["usage"]], tmp_path)
    assert heavy == [] and codes == [0, 0]
    helped = run_cli(["--help"], cwd=tmp_path)
    assert helped.returncode == 0, helped.output
    for name, entry in SUBCOMMANDS.items():
        assert f"dlrun {name} {entry.arguments}" in helped.stdout, name
