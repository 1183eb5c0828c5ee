"""Config validation, before anything expensive: types, ranges, names, model/data fit.

Every problem is reported as `key=value: what is allowed`. The rules are the knobs'
declarations (dlrun.config.declarations, which gathers them from the option tables); a
knob's rule applies when the composed config has it. Importing this module does not import torch.
"""

from __future__ import annotations

from dlrun.base.errors import ConfigError  # noqa: F401 - raised here, and imported from here by callers
from dlrun.config.compose import plain_config
from dlrun.base.options import unknown_name_message
from dlrun.config.declarations import rule_problems
from dlrun.config.own_code import checked_own_code
from dlrun.config.run_length import run_length_problems
from dlrun.config.structure import structure_problems
from dlrun.config.unknown_keys import missing_knob_problems, unknown_key_problems
from dlrun.data.datasets import DATASETS, data_entry, data_kind, data_problems
from dlrun.loggers.table import logger_problems
from dlrun.models.zoo import MODELS, incompatibility, knob_problems, patch_size_problem
from dlrun.recipe.optim import optimizer_arguments
from dlrun.recipe.transfer import checkpoint_problems


def _name_problems(cfg: dict) -> list:
    problems = []
    if cfg["model"].get("name") not in MODELS and "_target_" not in cfg["model"]:
        problems.append(f"model.name: {unknown_name_message('model', cfg['model'].get('name'), MODELS)}")
    else:
        problems += knob_problems(cfg["model"])
    try:
        optimizer_arguments(cfg["optim"])
    except ValueError as error:
        problems.append(str(error))
    return problems


def _fit_problems(cfg: dict) -> list:
    if cfg["data"]["name"] not in DATASETS or (cfg["model"].get("name") not in MODELS and "_target_" not in cfg["model"]):
        return []  # already reported by name
    modality, task = data_kind(cfg["data"])
    entry = data_entry(cfg["data"]["name"])
    problem = incompatibility(cfg["model"], modality, task, cfg["data"]["name"], entry.causal)
    if not problem and entry.image_size and cfg["model"].get("name") == "transformer" and "_target_" not in cfg["model"]:
        problem = patch_size_problem(cfg["model"].get("patch_size"), *entry.image_size)
    return [problem] if problem else []


def validated(cfg):
    """The run's config, checked: Hydra's node left out, ${...} resolved, every rule applied
    (ConfigError lists every problem). Called once per run, before anything expensive; the
    layers after it (session, runner) trust what it returns and do not check again."""
    from omegaconf import OmegaConf

    plain = plain_config(cfg)
    validate(plain)
    return OmegaConf.create(plain)


def validate(cfg) -> None:
    """Raise ConfigError listing every problem in the composed config (a plain dict as it is;
    a DictConfig without Hydra's node, resolved)."""
    cfg = plain_config(cfg)
    problems = structure_problems(cfg) or missing_knob_problems(cfg)
    if not problems:
        cfg = checked_own_code(cfg)  # a user's _target_ model or data: checked there; the rules below see dlrun's keys
        problems = rule_problems(cfg)
    if not problems:
        # data problems (task choice, split sizes, files: headers only) before the model/data fit;
        # the run's length (batches from the data's size) last
        problems = (_name_problems(cfg) or logger_problems(cfg["logger"]) or data_problems(cfg["data"])
                    or _fit_problems(cfg) or checkpoint_problems(cfg["init"]) or run_length_problems(cfg)
                    or unknown_key_problems(cfg))
    if problems:
        raise ConfigError(problems)
