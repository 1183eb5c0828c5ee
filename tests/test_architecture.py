"""dlrun's import graph, read with `ast` from the source (nothing is imported): no import
cycles, and every import looks down the layers of DESIGN.md ("Layers"), lazy imports inside
functions included. The layer order is written down once, in LAYERS."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dlrun"

# Bottom to top: DESIGN.md's list, plus the run folder's files under the domain packages (which
# read them) and population beside sweeps. A module belongs to the layer of its longest listed
# prefix, and may import from its own layer and the layers below it, never above.
LAYERS = {
    "base": ["dlrun.base"],
    # what a run folder holds, read by every layer above: summary.json, metrics.csv, checkpoint checksums, record.json
    "run files": ["dlrun.training.summary", "dlrun.training.metrics_file", "dlrun.training.checkpoint_files",
                  "dlrun.training.record"],
    # each option next to its factory; distributed's parts that the run's Trainer and loggers are built from
    "domain": ["dlrun.models", "dlrun.data", "dlrun.recipe", "dlrun.callbacks", "dlrun.loggers",
               "dlrun.distributed.env", "dlrun.distributed.strategies", "dlrun.distributed.callbacks",
               "dlrun.distributed.records"],
    "config": ["dlrun.config"],
    "run": ["dlrun.training"],
    "distributed": ["dlrun.distributed"],  # plan, launch, rank: ranks call the run layer
    "session": ["dlrun.training.session"],
    "sweeps": ["dlrun.sweeps", "dlrun.population"],
    "report": ["dlrun.report"],
    "cli": ["dlrun.cli", "dlrun.__main__", "dlrun"],
}
# The run layer loads a tracker's module by name from its table (dlrun.loggers.table), never imports it.
TRACKER_MODULES = ("dlrun.loggers.wandb_logger", "dlrun.loggers.mlflow_logger", "dlrun.loggers.tensorboard_logger")
# Only the package's own entry points may import the command line.
CLI_IMPORTERS = ("dlrun", "dlrun.__main__")
# `from dlrun import __version__`: the version string, defined before the package imports anything.
ROOT_NAMES_FOR_ALL = {"__version__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node, module: str, is_package: bool, modules: set) -> list:
    """The dlrun modules an import statement names (`from pkg import module` names the module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "dlrun"]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "dlrun":
        return []
    if target == "dlrun" and all(alias.name in ROOT_NAMES_FOR_ALL for alias in node.names):
        return []
    named = [f"{target}.{alias.name}" for alias in node.names]
    return [name if name in modules else target for name in named]


def import_graph() -> list:
    """[(importer, imported, lazy)] over every module of dlrun; lazy: inside a function."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules, edges = set(files), []
    for module, path in files.items():
        def visit(node, lazy: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    edges.extend((module, target, lazy) for target in _imported(child, module, path.name == "__init__.py",
                                                                                 modules) if target != module)
                visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

        visit(ast.parse(path.read_text(), str(path)), False)
    return edges


def layer_of(module: str) -> int:
    # "dlrun" itself is in the top layer; its subpackages must each be listed (a prefix match on
    # "dlrun" would put every unlisted package at the top, free to import anything)
    prefixes = [(len(prefix), index) for index, prefixes in enumerate(LAYERS.values()) for prefix in prefixes
                if module == prefix or (prefix != "dlrun" and module.startswith(prefix + "."))]
    assert prefixes, f"{module}: in no layer of LAYERS"
    return max(prefixes)[1]


def cycles(edges) -> list:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {}
    for importer, imported, _ in edges:
        graph.setdefault(importer, set()).add(imported)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def upward(edges) -> set:
    return {(importer, imported) for importer, imported, _ in edges if layer_of(imported) > layer_of(importer)}


def rule_breaks(edges) -> list:
    """Imports the layer rules forbid, named one per line."""
    breaks = [f"{a} imports {b}: {list(LAYERS)[layer_of(b)]} is above {list(LAYERS)[layer_of(a)]}"
              for a, b in sorted(upward(edges))]
    breaks += [f"{a} imports {b}: a tracker's module is loaded by name from dlrun.loggers.table"
               for a, b, _ in edges if b in TRACKER_MODULES and layer_of(a) >= layer_of("dlrun.training")]
    breaks += [f"{a} imports {b}: only {', '.join(CLI_IMPORTERS)} may import the command line"
               for a, b, _ in edges if b.startswith("dlrun.cli") and not a.startswith("dlrun.cli") and a not in CLI_IMPORTERS]
    return breaks


@pytest.fixture(scope="module")
def edges():
    return import_graph()


def test_the_graph_is_read(edges):
    """The parser sees both kinds of import, so the tests below look at something."""
    assert ("dlrun.training.trainer", "dlrun.loggers.table", False) in edges
    assert ("dlrun.training.runner", "dlrun.training.trainer", True) in edges
    assert ("dlrun.cli.commands.report", "dlrun.report.study", True) in edges


def test_no_import_cycles_among_module_level_imports(edges):
    assert cycles([edge for edge in edges if not edge[2]]) == []


def test_no_import_cycles_even_counting_imports_inside_functions(edges):
    assert cycles(edges) == []


def test_every_import_looks_down_the_layers(edges):
    assert rule_breaks(edges) == []



def test_the_run_layer_names_no_sweep_report_or_tracker_module(edges):
    """Issue 14's 'Done when', said directly (the layer rule implies it)."""
    run = [(a, b) for a, b, _ in edges if layer_of(a) in (layer_of("dlrun.training"), layer_of("dlrun.training.summary"))]
    assert [(a, b) for a, b in run if b.startswith(("dlrun.sweeps", "dlrun.population", "dlrun.report", "dlrun.cli"))
            or b in TRACKER_MODULES] == []


def test_every_package_says_what_it_owns_and_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in docstring.lower(), f"{init}: no docstring saying what the package may import"


@pytest.mark.parametrize("edge, broken", [
    (("dlrun.training.trainer", "dlrun.sweeps.pruning", False), "dlrun.sweeps.pruning"),
    (("dlrun.training.runner", "dlrun.report.curves", True), "dlrun.report.curves"),
    (("dlrun.base.errors", "dlrun.config.validate", True), "dlrun.config.validate"),
    (("dlrun.report.hook", "dlrun.cli.commands.report", True), "command line"),
    (("dlrun.sweeps.loop", "dlrun.loggers.wandb_logger", True), "loaded by name"),
])
def test_the_rules_catch_a_forbidden_edge(edges, edge, broken):
    found = rule_breaks(edges + [edge])
    assert found and all(line.startswith(f"{edge[0]} imports {edge[1]}:") for line in found), found
    assert any(broken in line for line in found), found


def test_a_package_in_no_layer_is_caught():
    assert layer_of("dlrun.training.runner") == list(LAYERS).index("run")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("dlrun.newpackage.module")


def test_a_cycle_is_caught(edges):
    fake = ("dlrun.base.atomic", "dlrun.base.errors", False), ("dlrun.base.errors", "dlrun.base.atomic", False)
    assert cycles(edges + list(fake)) == [["dlrun.base.atomic", "dlrun.base.errors"]]


def test_the_readme_layout_names_every_package():
    """README's Layout section describes the tree: every package of dlrun is in it, and every
    folder it names exists."""
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    named = set(re.findall(r"\b([a-z_]+)/", layout)) - {"dlrun", "conf", "tests", "benchmarks", "docs", "studies",
                                                           "hydra_plugins", "commands"}
    assert packages - named == set(), "packages missing from README's Layout"
    assert named - packages == set(), "README's Layout names folders dlrun does not have"
