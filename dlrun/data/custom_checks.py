"""Checks of a user's own data config (`data._target_`), before anything is loaded:
standard library only, like dlrun.data.checks. The loading and the spec rule are in
dlrun.data.custom."""

from __future__ import annotations

from dlrun.data.spec import MODALITIES, TASKS

# keys of a user's data config that say what the data is, instead of being passed to its function
SPEC_KEYS = ("modality", "task", "num_classes", "vocab_size")


def dlrun_keys() -> tuple:
    """Keys of a user's data config that are dlrun's: its name, the target, the batching and
    split knobs every dataset shares (declared once, in conf/data/split/standard.yaml), and
    what the data is."""
    import yaml

    from dlrun.base.paths import config_dir

    shared = yaml.safe_load((config_dir() / "data" / "split" / "standard.yaml").read_text()) or {}
    return ("_target_", "name", *shared, *SPEC_KEYS)


def own_data_knobs(cfg_data) -> dict:
    """The keyword arguments the user's data callable gets from its config."""
    reserved = dlrun_keys()
    return {key: value for key, value in cfg_data.items() if key not in reserved}


def _is_count(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def own_data_problems(cfg_data) -> list:
    """What can be seen wrong before loading: the declared spec keys, the target and its knobs."""
    from dlrun.base.user_code import target_problems

    problems = []
    for key, allowed in (("modality", MODALITIES), ("task", TASKS)):
        if cfg_data.get(key) not in (None, *allowed):
            problems.append(f"data.{key}={cfg_data[key]!r}: expected null (inferred from the data) or one of: "
                            f"{', '.join(allowed)}")
    problems += [f"data.{key}={cfg_data[key]!r}: expected null (inferred from the data) or an integer >= 1"
                 for key in ("num_classes", "vocab_size") if not _is_count(cfg_data.get(key))]
    return problems + target_problems("data", cfg_data["_target_"], own_data_knobs(cfg_data), offers=("seed",))
