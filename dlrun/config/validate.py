"""Config validation, before anything expensive: types, ranges, names, model/data fit.

Every problem is reported as `key=value: what is allowed`. Rules apply to a key when the
composed config has it (option-specific knobs such as optim.momentum included). Importing
this module does not import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dlrun.callbacks.choices import AVERAGERS
from dlrun.data.spec import TASKS
from dlrun.base.errors import ConfigError  # noqa: F401 - raised here, and imported from here by callers
from dlrun.data.datasets import DATASETS, data_entry, data_kind, data_problems
from dlrun.distributed.strategies import STRATEGIES
from dlrun.recipe.metrics import all_metric_names
from dlrun.models.choices import ACTIVATIONS, NORMS
from dlrun.models.zoo import MODELS, incompatibility, knob_problems
from dlrun.recipe.init_schemes import CHRONO, INITS
from dlrun.recipe.optim import OPTIMIZERS, optimizer_arguments
from dlrun.loggers.table import logger_problems
from dlrun.config.compose import plain_config
from dlrun.config.overrides import shown
from dlrun.config.own_code import checked_own_code
from dlrun.base.options import unknown_name_message
from dlrun.config.run_length import run_length_problems
from dlrun.config.structure import structure_problems
from dlrun.recipe.transfer import checkpoint_problems
from dlrun.recipe.schedule import SCHEDULES


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    allowed: str


# Counts and sizes end up in C integers (tensor shapes, loop counters): 32 bits is what
# every backend takes. Seeds go to numpy's and torch's generators: numpy takes 32 bits.
LARGEST_INT = 2**31 - 1
SEED_LIMIT = 2**32


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    """A finite int or float: nan, inf and 1e400 (which reads as inf) are no setting."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(v, low=None, high=LARGEST_INT):
    return _is_int(v) and (low is None or v >= low) and v <= high


def integer(low=None, high=LARGEST_INT):
    bound = "2**31" if high == LARGEST_INT else f"2**{(high + 1).bit_length() - 1}"
    text = "an integer" + (f" >= {low}" if low is not None else "") + f" (below {bound})"
    return Rule(lambda v: _in_range(v, low, high), text)


def _existing_path(value) -> bool:
    try:
        return Path(value).exists()
    except OSError:  # e.g. a name longer than the filesystem takes
        return False


def number(low=None, high=None, low_open=False, high_open=False):
    def check(v):
        if not _is_number(v):
            return False
        if low is not None and (v <= low if low_open else v < low):
            return False
        return high is None or (v < high if high_open else v <= high)

    left = "" if low is None else f"{'>' if low_open else '>='} {low}"
    right = "" if high is None else f"{'<' if high_open else '<='} {high}"
    return Rule(check, "a finite number " + " and ".join(part for part in (left, right) if part))


def one_of(choices):
    choices = tuple(choices)
    return Rule(lambda v: v in choices, "one of: " + ", ".join(map(str, choices)))


BOOLEAN = Rule(lambda v: isinstance(v, bool), "true or false")
FRACTION_OR_COUNT = Rule(lambda v: _in_range(v, 1) or (isinstance(v, float) and 0 < v <= 1),
                         "a fraction in (0, 1] or a whole number of batches >= 1")
FRACTION_COUNT_OR_OFF = Rule(lambda v: FRACTION_OR_COUNT.check(v) or v == 0,
                             "0 (off), a fraction in (0, 1] or a whole number of batches >= 1")
BETAS = Rule(lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v),
             "two numbers in [0, 1), e.g. [0.9, 0.999]")
OFF_OR_POSITIVE = Rule(lambda v: v is None or (_is_number(v) and v > 0), "null (off) or a number > 0")
MILESTONES = Rule(lambda v: isinstance(v, (list, tuple)) and all(_in_range(m, 1) for m in v),
                  "a list of integers >= 1 (scheduler steps), e.g. [10, 15]")
NAMES = Rule(lambda v: isinstance(v, (list, tuple)) and all(isinstance(n, str) and n for n in v),
             "a list of module-name patterns, e.g. [stem, 'body.*']")

RULES: dict[str, Rule] = {
    "seed": integer(0, SEED_LIMIT - 1),
    "name": Rule(lambda v: isinstance(v, str) and v != "" and "/" not in v, "a non-empty string without '/'"),
    "objective": one_of(all_metric_names()),
    "trainer.max_epochs": integer(1),
    "trainer.max_steps": Rule(lambda v: v == -1 or _in_range(v, 1), "-1 (no limit) or an integer >= 1 (below 2**31)"),
    "trainer.limit_train_batches": FRACTION_OR_COUNT,
    "trainer.limit_val_batches": FRACTION_COUNT_OR_OFF,
    "trainer.limit_test_batches": FRACTION_COUNT_OR_OFF,
    "trainer.val_check_interval": FRACTION_OR_COUNT,
    "trainer.check_val_every_n_epoch": integer(1),
    "trainer.log_every_n_steps": integer(1),
    "trainer.progress_bar": BOOLEAN,
    "trainer.profiler": Rule(lambda v: v in (None, "simple", "advanced", "pytorch"),
                             "null (off), simple, advanced or pytorch"),
    "trainer.test_after_fit": BOOLEAN,
    "data.batch_size": integer(1),
    "data.val_fraction": number(0, 1, low_open=True, high_open=True),
    "data.test_fraction": number(0, 1, high_open=True),
    "data.num_workers": integer(0),
    "data.task": one_of(TASKS),  # which of them a dataset poses: its entry
    "data.n_samples": integer(1),
    "data.noise": number(0),
    "data.factor": number(0, 1, low_open=True, high_open=True),
    "data.centers": integer(2),
    "data.n_features": integer(1),
    "data.length": integer(2),
    "data.delay": integer(0),
    "data.vocab": integer(1),
    "data.seq_len": integer(1),
    "data.path": Rule(lambda v: isinstance(v, str) and v != "", "a file path (data.path=FILE)"),
    "data.target": Rule(lambda v: isinstance(v, str) and v != "", "a column name (data.target=COLUMN)"),
    "data.features": Rule(lambda v: v is None or (isinstance(v, (list, tuple)) and all(isinstance(n, str) for n in v)),
                          "null (every column but the target) or a list of column names"),
    "data.root": Rule(lambda v: isinstance(v, str) and v != "", "a folder path"),
    "data.in_memory": BOOLEAN,
    "data.download": BOOLEAN,
    "data.mirror": Rule(lambda v: v is None or (isinstance(v, str) and "://" in v), "null or a URL (https://host/folder/)"),
    "data.checksums": Rule(lambda v: v is None or (isinstance(v, dict) and all(
        isinstance(c, str) and c.partition(":")[0] in ("md5", "sha256") and c.partition(":")[2] for c in v.values())),
        "null or {FILE: 'sha256:HEX' or 'md5:HEX'}"),
    "model.width": integer(1),
    "model.depth": integer(1),
    "model.activation": one_of(ACTIVATIONS),
    "model.norm": one_of(NORMS),
    "model.dropout": number(0, 1, high_open=True),
    "model.convs_per_stage": integer(1),
    "model.stages": integer(1),
    "model.residual": BOOLEAN,
    "model.bidirectional": BOOLEAN,
    "model.heads": integer(1),
    "model.mlp_ratio": number(0, low_open=True),
    "model.positions": one_of(("learned", "sinusoidal")),
    "model.patch_size": Rule(lambda v: v == "auto" or _in_range(v, 1), "'auto' or an integer >= 1"),
    "model.kernel_size": integer(2),
    "optim.name": one_of(OPTIMIZERS),
    "optim.lr": number(0, low_open=True),
    "optim.weight_decay": number(0),
    "optim.momentum": number(0, 1, high_open=True),
    "optim.eps": number(0, low_open=True),
    "optim.betas": BETAS,
    "optim": Rule(lambda v: v.get("name") != "nesterov" or v.get("momentum", 0) > 0, "momentum > 0 for optim=nesterov"),
    "optim.dampening": number(0, 1),
    "optim.alpha": number(0, 1, high_open=True),
    "optim.lr_decay": number(0),
    "optim.initial_accumulator_value": number(0),
    "optim.centered": BOOLEAN,
    "optim.amsgrad": BOOLEAN,
    "optim.clip.norm": OFF_OR_POSITIVE,
    "optim.clip.value": OFF_OR_POSITIVE,
    "optim.clip": Rule(lambda v: v.get("norm") is None or v.get("value") is None,
                       "at most one of optim.clip.norm and optim.clip.value set (null = off)"),
    "loss.label_smoothing": number(0, 1, high_open=True),
    "schedule.name": one_of(SCHEDULES),
    "schedule.warmup_steps": integer(0),
    "schedule.step_size": integer(1),
    "schedule.gamma": number(0, low_open=True),
    "schedule.min_lr_ratio": number(0, 1),
    "schedule.interval": one_of(("step", "epoch")),
    "schedule": Rule(lambda v: v.get("name") != "plateau" or v.get("interval") == "epoch",
                     "interval=epoch for schedule=plateau (its metric changes once per validation)"),
    "schedule.milestones": MILESTONES,
    "schedule.decay": number(0),
    "schedule.tau": number(0, low_open=True),
    "schedule.pct_start": number(0, 1, low_open=True, high_open=True),
    "schedule.div_factor": number(1),
    "schedule.final_div_factor": number(1),
    "schedule.monitor": one_of(name for name in all_metric_names() if not name.startswith("test/")),
    "schedule.factor": number(0, 1, low_open=True, high_open=True),
    "schedule.patience": integer(0),
    "schedule.threshold": number(0),
    "schedule.cooldown": integer(0),
    "schedule.min_lr": number(0),
    "init.name": one_of(INITS),
    "init.std": number(0, low_open=True),
    "init.a": number(0, low_open=True),
    "init.nonlinearity": one_of(("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu")),
    "init.negative_slope": number(0),
    "init.zero_bias": BOOLEAN,
    "init.forget_bias": Rule(lambda v: v is None or v == CHRONO or _is_number(v), f"null, a number or {CHRONO!r}"),
    "init.chrono_t_max": integer(3),
    "init.path": Rule(lambda v: isinstance(v, str) and v != "???" and _existing_path(v),
                      "an existing run folder or .ckpt/.pt file (init=checkpoint needs init.path=...)"),
    "init.which": one_of(("best", "last")),
    "init.freeze": NAMES,
    "init.gain": number(0, low_open=True),
    "init.distribution": one_of(("uniform", "normal")),
    "init.mode": one_of(("fan_in", "fan_out")),
    "hardware.devices": Rule(lambda v: _in_range(v, 1) or v == "auto", "an integer >= 1 or 'auto'"),
    "hardware.precision": one_of(("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "64-true")),
    "hardware.deterministic": BOOLEAN,
    "hardware.accelerator": one_of(("cpu", "gpu", "cuda", "mps", "auto")),
    "hardware.num_nodes": integer(1),
    "hardware.strategy": one_of(STRATEGIES),
    "hardware.compile": BOOLEAN,
    "hardware.matmul_precision": one_of(("highest", "high", "medium")),
    "hardware.timeout_s": number(0, low_open=True),
    "hardware.threads": Rule(lambda v: v is None or _in_range(v, 1), "null (torch's default) or an integer >= 1"),
    "callbacks.checkpoint.save_best": BOOLEAN,
    "callbacks.checkpoint.save_last": BOOLEAN,
    "callbacks.checkpoint.last_min_interval_s": number(0),
    "callbacks.averaging.name": one_of(AVERAGERS),
    "callbacks.averaging.ema.decay": number(0, 1, low_open=True, high_open=True),
    "callbacks.averaging.ema.warmup": BOOLEAN,
    "callbacks.averaging.ema.every_n_steps": integer(1),
    "callbacks.averaging.swa.start_fraction": number(0, 1, high_open=True),
    "callbacks.averaging.swa.every_n_steps": integer(0),
    "callbacks.gradient_noise.enabled": BOOLEAN,
    "callbacks.gradient_noise.eta": number(0, low_open=True),
    "callbacks.gradient_noise.gamma": number(0),
    "callbacks.divergence.enabled": BOOLEAN,
    "callbacks.divergence.check_every_n_steps": integer(1),
    "callbacks.divergence.max_loss_ratio": Rule(lambda v: v is None or (_is_number(v) and v > 1),
                                                "null (off) or a number > 1"),
    "callbacks.diagnostics.every_n_steps": integer(1),
    "callbacks.diagnostics.grad_norm": BOOLEAN,
    "callbacks.diagnostics.update_ratio": BOOLEAN,
    "callbacks.diagnostics.activations": BOOLEAN,
    "logger.wandb.mode": Rule(lambda v: v in (None, "online", "offline", "disabled"),
                              "null (WANDB_MODE, else online with credentials), online, offline or disabled"),
    "logger.wandb.tags": Rule(lambda v: isinstance(v, (list, tuple)) and all(isinstance(t, str) and t for t in v),
                              "a list of tag strings, e.g. [baseline, lr-study]"),
}


def _lookup_path(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _rule_problems(cfg: dict) -> list:
    problems = []
    for key, rule in RULES.items():
        present, value = _lookup_path(cfg, key)
        if present and not rule.check(value):
            problems.append(f"{key}={shown(repr(value))}: expected {rule.allowed}")
    return problems


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
    problem = incompatibility(cfg["model"], modality, task, cfg["data"]["name"], data_entry(cfg["data"]["name"]).causal)
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
    problems = structure_problems(cfg)
    if not problems:
        cfg = checked_own_code(cfg)  # a user's _target_ model or data: checked there; the rules below see dlrun's keys
        problems = _rule_problems(cfg)
    if not problems:
        # data problems (task choice, split sizes, files: headers only) before the model/data fit;
        # the run's length (batches from the data's size) last
        problems = (_name_problems(cfg) or logger_problems(cfg["logger"]) or data_problems(cfg["data"])
                    or _fit_problems(cfg) or checkpoint_problems(cfg["init"]) or run_length_problems(cfg))
    if problems:
        raise ConfigError(problems)
