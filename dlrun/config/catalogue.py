"""What the config tree offers: groups, their options and one-line descriptions (`dlrun ls`)."""

from __future__ import annotations

from pathlib import Path

from dlrun.base.paths import config_dir


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


def sourced_groups(folders) -> dict:
    """{group: {option: (description, folder)}} over config folders in search order: an
    option found in an earlier folder hides one of the same name in a later one, as in Hydra."""
    found = {}
    for root in folders:
        for group, options in groups(Path(root)).items():
            listed = found.setdefault(group, {})
            for option, text in options.items():
                listed.setdefault(option, (text, Path(root)))
    return {group: found[group] for group in sorted(found)}


def default_choices(root: Path = None, config_name: str = "config") -> dict:
    """{group: option} from the root config's defaults list (the composed config decides
    when that file itself comes from another folder)."""
    import yaml

    root = root or config_dir()
    path = root / f"{config_name}.yaml"
    if not path.is_file():
        return {}
    try:
        defaults = (yaml.safe_load(path.read_text()) or {}).get("defaults", [])
    except yaml.YAMLError:
        return {}  # composing says where
    return {key: value for entry in defaults if isinstance(entry, dict) for key, value in entry.items()}


def knob_rows(group: str, cfg: dict) -> list:
    """[(key, default, allowed, meaning)] for the knobs of a composed config's `group` node,
    from their declarations (empty for a user's own `_target_` option)."""
    from dlrun.config.declarations import GROUPS, SETTINGS, find

    node = cfg.get(group)
    if group in GROUPS:
        declared = GROUPS[group]
        name = node.get("name") if isinstance(node, dict) else None
        knobs = {key: declared.knobs[key] for key in declared.knobs_of(name)} if name in declared.options else {}
    else:
        knobs = SETTINGS.get(group, {})
    rows = []
    for key, knob in knobs.items():
        present, value = find(node, key)
        if present:
            rows.append((f"{group}.{key}", value, knob.rule.allowed, knob.meaning))
    return rows
