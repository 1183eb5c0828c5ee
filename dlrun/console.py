"""What a person sees: the config tree at start, the result table at the end (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

GROUP_ORDER = ("model", "data", "optim", "schedule", "init", "hardware", "logger", "callbacks", "trainer")


def _branch(tree: Tree, node) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            _branch(tree.add(f"[bold]{key}[/bold]"), value)
        else:
            tree.add(f"{key}: [cyan]{value!r}[/cyan]")


def config_tree(config: dict, title: str = "config") -> Tree:
    tree = Tree(f"[bold]{title}[/bold]")
    ordered = [key for key in GROUP_ORDER if key in config] + [key for key in config if key not in GROUP_ORDER]
    for key in ordered:
        value = config[key]
        if isinstance(value, dict):
            _branch(tree.add(f"[bold]{key}[/bold]"), value)
        else:
            tree.add(f"{key}: [cyan]{value!r}[/cyan]")
    return tree


def print_config(config: dict, title: str = "config") -> None:
    Console().print(config_tree(config, title))


def result_table(summary: dict) -> Table:
    # escaped: rich would read "[completed]" as a style tag and drop it
    table = Table(title=escape(f"dlrun: {summary['name']} [{summary['status']}]"), show_header=True)
    table.add_column("")
    table.add_column("value")
    for section in ("final", "test"):
        for name, value in sorted(summary.get(section, {}).items()):
            table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    objective = summary["objective"]
    table.add_row(f"best {objective['metric']}", f"{objective['value']:.4g}" if objective["value"] is not None else "-")
    table.add_row("steps", str(summary["global_step"]))
    table.add_row("wall time", f"{summary['wall_time_s']:.1f} s" if summary["wall_time_s"] is not None else "-")
    table.add_row("run folder", summary["run_dir"])
    table.add_row("best checkpoint", str(summary["best_checkpoint"] or "-"))
    if summary.get("error"):
        table.add_row("error", summary["error"].strip().splitlines()[-1])
    return table


def print_result(summary: dict) -> None:
    Console().print(result_table(summary))
