"""Validation of a user's own model or data (`model._target_`, `data._target_`), called by
dlrun.config.validate.validate before its built-in rules.

A user's config holds the knobs of the user's own signature: they are checked against
that signature (read from the source, nothing imported: dlrun.base.user_code), and hidden from
the built-in rules, which are about dlrun's own models and datasets (a user's
`activation: swish` is theirs to define). Standard library only.
"""

from __future__ import annotations

from dlrun.base.errors import ConfigError


def _is_own(node) -> bool:
    return isinstance(node, dict) and "_target_" in node


def _fit_problems(cfg: dict) -> list:
    """A built-in model on own data that declares what it is: the fit is known now (data whose
    modality or task is inferred is fitted when loaded, still exit 2 with one line)."""
    from dlrun.models.zoo import MODELS, incompatibility

    data, model = cfg["data"], cfg["model"]
    if _is_own(model) or model.get("name") not in MODELS or not (data.get("modality") and data.get("task")):
        return []
    problem = incompatibility(model, data["modality"], data["task"], data["name"])
    return [problem] if problem else []


def own_code_problems(cfg: dict) -> list:
    from dlrun.data.custom_checks import own_data_problems
    from dlrun.models.zoo import own_model_problems

    problems = own_model_problems(cfg["model"]) if _is_own(cfg.get("model")) else []
    if _is_own(cfg.get("data")):
        problems += own_data_problems(cfg["data"]) or _fit_problems(cfg)
    return problems


def checked_own_code(cfg: dict) -> dict:
    """Raise ConfigError for a user's model or data that cannot run; return the config with
    their own knobs left out, for the built-in rules."""
    if not (_is_own(cfg.get("model")) or _is_own(cfg.get("data"))):
        return cfg
    problems = own_code_problems(cfg)
    if problems:
        raise ConfigError(problems)
    from dlrun.data.custom_checks import dlrun_keys
    from dlrun.models.zoo import OWN_MODEL_KEYS

    view = dict(cfg)
    for group, kept in (("model", OWN_MODEL_KEYS), ("data", dlrun_keys())):
        if _is_own(cfg.get(group)):
            view[group] = {key: value for key, value in cfg[group].items() if key in kept}
    return view
