"""A model or data option without a `name:` is named after its file: `${dlrun.config.option_name:model}`
in conf/config.yaml (ahead of the chosen option, which overrides it with its own `name:`).

A config in the lightning-hydra-template style (`_target_` and the callable's knobs, nothing
else) then runs as written: `--config-dir conf model=small` is named `small`.

The option chosen is Hydra's `runtime.choices`: read from the config being resolved where it
still holds its `hydra` node (composition, the sweeper's per-trial configs, the run folder's
name), else from the running job's HydraConfig (a job's config, which Hydra hands over without
it). A config saved without either (RUN_DIR/.hydra/config.yaml) gets the name written in:
name_options before its node is dropped, name_saved_job_config for Hydra's saved copy.
The resolver is registered by OptionNameResolver, a Hydra callback (hydra.callbacks), as
dlrun.config.sweep_name's is, and by register_option_name where dlrun composes itself.
"""

from __future__ import annotations

from hydra.experimental.callback import Callback

from dlrun.base import atomic

RESOLVER = "dlrun.config.option_name"
NAMED_GROUPS = ("model", "data")


def option_name(group: str, *, _root_) -> str:
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    chosen = OmegaConf.select(_root_, f"hydra.runtime.choices.{group}", default=None)
    if chosen is None and HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
    if chosen is None:
        raise ValueError(f"{group}.name: not set, and no {group} option was chosen to name it after; add name: ...")
    return str(chosen).rsplit("/", 1)[-1]


def register_option_name() -> None:
    """Make `${dlrun.config.option_name:GROUP}` resolvable (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, option_name)


class OptionNameResolver(Callback):
    """Registers the resolver when Hydra makes its callbacks, before it resolves the run folder's name."""

    def __init__(self) -> None:
        register_option_name()


def _named_by_default(cfg, group: str) -> bool:
    from omegaconf import DictConfig, OmegaConf

    node = cfg.get(group) if isinstance(cfg, DictConfig) else None
    if not isinstance(node, DictConfig) or "name" not in node or not OmegaConf.is_interpolation(node, "name"):
        return False
    value = OmegaConf.to_container(node, resolve=False)["name"]  # the interpolation as written
    return isinstance(value, str) and value.startswith("${" + RESOLVER + ":")


def name_options(cfg) -> None:
    """Write each option's name in where it comes from the resolver (the config still holds its
    hydra node, or the job's HydraConfig is set): what is then saved needs neither."""
    from omegaconf import open_dict

    for group in NAMED_GROUPS:
        if _named_by_default(cfg, group):
            with open_dict(cfg[group]):
                cfg[group].name = option_name(group, _root_=cfg)


def name_saved_job_config() -> None:
    """Hydra's saved copy of the running job's config (RUN_DIR/.hydra/config.yaml), names
    written in, so that resume, evaluate and predict read it outside Hydra. Call it inside the
    job (a task function), while Hydra's HydraConfig is the job's."""
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    job = HydraConfig.get()
    if job.output_subdir is None:  # hydra.output_subdir=null: nothing saved
        return
    path = Path(job.runtime.output_dir) / job.output_subdir / "config.yaml"
    if not path.is_file():
        return
    saved = OmegaConf.load(path)
    if any(_named_by_default(saved, group) for group in NAMED_GROUPS):
        name_options(saved)
        atomic.write_text(path, OmegaConf.to_yaml(saved))
