"""Every YAML under dlrun/conf against its declaration, for every option of every group.

The knobs are declared once, next to their factories (dlrun.config.declarations gathers
them); the YAML files hold the defaults. Here, generically: every option has a YAML and
every YAML an option; every key a YAML composes to is declared; every declared knob has a
default there that passes its own rule ("???" marks a knob the user must set); every
implementation a table names can be imported. A new option is tested by adding it.
"""

from __future__ import annotations

import itertools
import re

import pytest
from omegaconf import OmegaConf

from conftest import REPO
from dlrun.base.options import load_object
from dlrun.base.paths import config_dir
from dlrun.config.compose import compose
from dlrun.config.declarations import GROUPS, SETTINGS
from dlrun.loggers.table import LOGGERS

REQUIRED = "???"  # OmegaConf's mark for a value without a default
OPTIONS = [(group, name) for group in GROUPS for name in GROUPS[group].options]


def composed(*overrides) -> dict:
    return OmegaConf.to_container(compose(list(overrides)), resolve=True)


def leaves(node: dict, declared, prefix: str = "") -> dict:
    """{dotted key: value}: nested nodes opened up, except where a knob is a whole mapping."""
    found = {}
    for key, value in node.items():
        dotted = prefix + key
        if isinstance(value, dict) and value and dotted not in declared:
            found.update(leaves(value, declared, dotted + "."))
        else:
            found[dotted] = value
    return found


def broken_defaults(values: dict, knobs: dict) -> dict:
    return {key: value for key, value in values.items()
            if value != REQUIRED and not knobs[key].rule.check(value)}


def option_files(group: str) -> set:
    return {path.stem for path in (config_dir() / group).glob("*.yaml")}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_option_has_a_yaml_and_every_yaml_an_option(group):
    assert option_files(group) == set(GROUPS[group].options)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_declared_knob_belongs_to_an_option(group):
    declared = GROUPS[group]
    used = {knob for name in declared.options for knob in declared.knobs_of(name)}
    assert used == set(declared.knobs), "knobs declared but taken by no option (or taken but undeclared)"


@pytest.mark.parametrize("group, name", OPTIONS, ids=[f"{g}={n}" for g, n in OPTIONS])
def test_the_yaml_of_each_option_holds_exactly_its_declared_knobs_with_valid_defaults(group, name):
    declared = GROUPS[group]
    node = composed(f"{group}={name}")[group]
    assert node.pop("name") == name
    values = leaves(node, declared.knobs)
    assert sorted(values) == sorted(declared.knobs_of(name)), f"{group}/{name}.yaml against its declaration"
    assert broken_defaults(values, declared.knobs) == {}
    first_line = (config_dir() / group / f"{name}.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# ") and len(first_line) > 12, "`dlrun ls` shows the first comment line"


@pytest.mark.parametrize("group, name", OPTIONS, ids=[f"{g}={n}" for g, n in OPTIONS])
def test_each_option_names_an_implementation_that_imports(group, name):
    impl = GROUPS[group].options[name].impl
    assert impl is None or callable(load_object(impl))


@pytest.mark.parametrize("where, overrides", [
    ("", []), ("trainer", []), ("loss", []),
    *[("hardware", [f"hardware={name}"]) for name in sorted(option_files("hardware"))],
    *[("callbacks", [f"callbacks={name}"]) for name in sorted(option_files("callbacks"))],
])
def test_each_settings_preset_holds_exactly_the_declared_knobs(where, overrides):
    knobs = SETTINGS[where]
    cfg = composed(*overrides)
    node = {key: cfg[key] for key in knobs} if where == "" else cfg[where]
    values = leaves(node, knobs)
    assert sorted(values) == sorted(knobs)
    assert broken_defaults(values, knobs) == {}


@pytest.mark.parametrize("preset", sorted(option_files("logger")))
def test_each_logger_yaml_holds_its_loggers_declared_knobs(preset):
    for name, node in composed(f"logger={preset}")["logger"].items():
        entry = LOGGERS[name]
        if isinstance(node, dict):
            assert sorted(node) == sorted(entry.knobs), f"logger/{preset}.yaml: logger.{name}"
            assert broken_defaults(node, entry.knobs) == {}
        else:
            assert isinstance(node, bool) and not entry.knobs, f"logger.{name}: true/false only for a logger without knobs"


def test_a_broken_declared_rule_is_what_validation_reports():
    """The declarations are the rules: a value a knob's rule refuses is the one reported."""
    from dlrun.config.validate import ConfigError, validate

    knob = GROUPS["optim"].knobs["momentum"]
    assert not knob.rule.check(1.5)
    with pytest.raises(ConfigError) as refused:
        validate(compose(["optim=momentum", "optim.momentum=1.5"]))
    assert refused.value.problems == [f"optim.momentum=1.5: expected {knob.rule.allowed}"]


def test_ls_group_option_shows_each_knobs_default_rule_and_meaning_without_torch(cli, tmp_path):
    from conftest import heavy_imports_after

    result = cli("ls", "optim", "momentum")
    assert result.returncode == 0, result.output
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
            for line in result.stdout.splitlines() if line.count("│") >= 5}
    momentum = GROUPS["optim"].knobs["momentum"]
    assert rows["optim.momentum"] == ["0.9", momentum.rule.allowed, momentum.meaning]
    assert set(rows) == {f"optim.{knob}" for knob in GROUPS["optim"].knobs_of("momentum")}
    refused = cli("ls", "optim", "lion")
    assert refused.returncode == 2 and "unknown optim 'lion'" in refused.stderr
    heavy, codes, stderr = heavy_imports_after([["ls", "optim", "momentum"], ["ls", "hardware", "ddp"]], tmp_path)
    assert heavy == [] and codes == [0, 0], stderr


def _without_parentheses(text: str) -> str:
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\([^()]*\)", "", text)
    return text


def _readme_table(heading: str) -> dict:
    """{first cell: row cells} of the first table after the README heading."""
    readme = (REPO / "README.md").read_text()
    lines = readme[readme.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = {}
    for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2:]):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for name in re.findall(r"`(\w+)`", cells[0]):
            rows[name] = cells
    return rows


def _knobs_named(cell: str, rows: dict, column: int) -> set:
    """The knob names a README cell lists, each item as written (`as NAME` borrows another row's)."""
    text = _without_parentheses(cell).replace("*", "").replace("`", "")
    borrowed = re.match(r"as (\w+)\s*\+?", text)
    named = _knobs_named(rows[borrowed.group(1)][column], rows, column) if borrowed else set()
    items = (item.strip() for item in text[borrowed.end() if borrowed else 0:].split(","))
    return named | {item for item in items if item and item != "—"}


@pytest.mark.parametrize("group, heading, column", [("model", "### Models", 2), ("data", "### Data", 3)])
def test_the_readme_tables_list_each_options_declared_knobs(group, heading, column):
    """No stale row and no stale knob (a new option need not be in the README to work)."""
    declared = GROUPS[group]
    rows = _readme_table(heading)
    assert set(rows) <= set(declared.options) and len(rows) >= 5
    for name, cells in rows.items():
        named = _knobs_named(cells[column], rows, column)
        assert named <= set(declared.knobs), f"{name}: not declared knobs: {named - set(declared.knobs)}"
        assert named == set(declared.options[name].knobs), name


@pytest.mark.parametrize("group", ["optim", "schedule", "init"])
def test_the_readme_recipe_lists_only_declared_options(group):
    readme = (REPO / "README.md").read_text()
    listed = readme[readme.index(f"\n- {group}: ") + len(group) + 5:]
    listed = _without_parentheses(listed[:listed.index(".")].split(";")[0])
    assert {name.strip() for name in listed.split(",")} <= set(GROUPS[group].options)
