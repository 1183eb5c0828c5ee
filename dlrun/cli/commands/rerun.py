"""`dlrun rerun RUN_DIR [OVERRIDES...]`: make a run again from its record, then compare.

A new run (its own folder) from RUN_DIR's record.json (dlrun.training.record): the same
config folders and overrides (a sweep trial's or a population member's as a single run),
started in the same working folder, with OVERRIDES on top; the same path as `dlrun ...`
typed there. Then every final and test metric side by side with the original's:
"identical", or the differences; and the config keys that came out different (a config
file edited since). Exit: the new run's (0 completed, 1 not, 2 bad input).
"""

from __future__ import annotations

from pathlib import Path

from dlrun.base.errors import ConfigError, refusing_bad_input

USAGE = "usage: dlrun rerun RUN_DIR [OVERRIDES...]   e.g. dlrun rerun outputs/sweeps/.../3 trainer.max_epochs=1"
COMPARED = ("final", "test")  # the summary's sections compared metric by metric


def metric_differences(original: dict, rerun: dict) -> list:
    """[(section/metric, original value, rerun value)] where they are not equal."""
    differences = []
    for section in COMPARED:
        before, after = original.get(section) or {}, rerun.get(section) or {}
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                differences.append((f"{section} {name}", before.get(name), after.get(name)))
    return differences


def config_differences(run_dir: Path, rerun_dir: Path) -> list:
    """The dotted config keys whose resolved values differ between the two runs' .hydra/config.yaml."""
    from omegaconf import OmegaConf

    from dlrun.loggers.table import flat_config
    from dlrun.training.run_folder import SAVED_CONFIG

    before, after = (flat_config(OmegaConf.to_container(OmegaConf.load(folder / SAVED_CONFIG), resolve=True))
                     for folder in (run_dir, rerun_dir))
    return [key for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]


def _shown(value) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def print_comparison(original: dict, rerun: dict, changed_keys: list) -> None:
    if changed_keys:
        print(f"config: differs from the original's in {', '.join(changed_keys)}")
    differences = metric_differences(original, rerun)
    compared = sum(len(original.get(section) or {}) for section in COMPARED)
    if not differences:
        print(f"metrics: identical ({compared} final and test metrics)")
        return
    width = max(len(name) for name, _, _ in differences)
    print(f"metrics: {len(differences)} of {compared} differ (original -> rerun):")
    for name, before, after in differences:
        delta = f"  ({after - before:+.3g})" if isinstance(before, float) and isinstance(after, float) else ""
        print(f"  {name:<{width}}  {_shown(before)} -> {_shown(after)}{delta}")


@refusing_bad_input("rerun")
def main(args) -> int:
    from dlrun.cli.commands.train import start
    from dlrun.training.record import (command_line, enter_working_folder, overridden, read_record,
                                       single_run_overrides)
    from dlrun.training.run_folder import split_arguments
    from dlrun.training.summary import read_summary

    run_dir, _, overrides = split_arguments(args, USAGE)
    run_dir = run_dir.resolve()
    record = read_record(run_dir)
    if record is None:
        raise ConfigError([f"{run_dir}: no record.json (a run of an earlier dlrun): nothing says how it was "
                           "started; its resolved config is .hydra/config.yaml"])
    original = read_summary(run_dir)
    sources = enter_working_folder(record)
    arguments = overridden(single_run_overrides(record.get("overrides", [])), overrides)
    print(f"rerun of {run_dir}: {command_line(sources, arguments)}", flush=True)
    status, rerun_dir = start([*sources.flags(), *arguments])
    if rerun_dir is None or not (Path(rerun_dir) / "summary.json").is_file():
        return status
    print(f"original: {run_dir}\nrerun:    {Path(rerun_dir).resolve()}")
    print_comparison(original, read_summary(rerun_dir), config_differences(run_dir, Path(rerun_dir)))
    return status
