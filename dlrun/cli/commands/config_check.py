"""`dlrun show [OVERRIDES...]` and `dlrun validate [OVERRIDES...]`: a command line's config,
checked as a run checks it before it starts (dlrun.cli.precheck), printed whole or in one
line. Its bad input reads as a run's own (`dlrun: config error:`). Imports neither torch nor
lightning."""

from __future__ import annotations

from dlrun.base.errors import BadInput, refusing_bad_input


def _config(args, outputs: bool):
    """The checked config: a run's as validated, a sweep's base config (its points checked)."""
    from dlrun.config.compose import without_hydra
    from dlrun.cli.precheck import check_command_line

    checked = check_command_line(args, outputs=outputs)
    if checked.run_config is not None:
        return checked.run_config
    if checked.config is None:  # --help, --info, ...: Hydra's own flags, no config
        raise BadInput(f"{' '.join(args)}: Hydra's own flags go to `dlrun` itself (dlrun {' '.join(args)})")
    return without_hydra(checked.config)


@refusing_bad_input()
def show(args) -> int:
    from omegaconf import OmegaConf

    print(OmegaConf.to_yaml(_config(args, outputs=False)), end="")
    return 0


@refusing_bad_input()
def validate(args) -> int:
    cfg = _config(args, outputs=True)
    print(f"ok: model={cfg.model.get('name', cfg.model.get('_target_'))} data={cfg.data.name} "
          f"optim={cfg.optim.name} lr={cfg.optim.lr} schedule={cfg.schedule.name} hardware={cfg.hardware.name}")
    return 0
