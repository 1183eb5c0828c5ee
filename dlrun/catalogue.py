"""What the config tree offers: groups, their options and one-line descriptions (`dlrun ls`)."""

from __future__ import annotations

from pathlib import Path

from dlrun.paths import config_dir


def description(path: Path) -> str:
    """The YAML's first comment line: every config starts with one saying what it is."""
    with path.open() as handle:
        for line in handle:
            stripped = line.strip()
            if stripped.startswith("#") and not stripped.startswith("# @package"):
                return stripped.lstrip("#").strip()
            if stripped and not stripped.startswith("#"):
                break
    return ""


def groups(root: Path = None) -> dict:
    """{group: {option: description}} for every folder of YAMLs under the config tree."""
    root = root or config_dir()
    found = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        options = {path.stem: description(path) for path in sorted(folder.glob("*.yaml"))}
        if options:
            found[folder.relative_to(root).as_posix()] = options
    return found


def default_choices(root: Path = None) -> dict:
    """{group: option} from the root config's defaults list."""
    import yaml

    root = root or config_dir()
    defaults = yaml.safe_load((root / "config.yaml").read_text()).get("defaults", [])
    return {key: value for entry in defaults if isinstance(entry, dict) for key, value in entry.items()}
