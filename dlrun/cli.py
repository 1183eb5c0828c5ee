"""The `dlrun` command: subcommands first, else Hydra's own CLI (overrides, -m, --cfg, --help).

Nothing here imports torch or lightning: listing, showing and rejecting configs stay fast.
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: dlrun [OVERRIDES...]            train one experiment (Hydra overrides: optim=sgd optim.lr=0.1)
       dlrun -m [OVERRIDES...]         sweep (comma lists, or interval/choice search spaces)
       dlrun ls [GROUP]                config groups and their options
       dlrun show [OVERRIDES...]       the composed, resolved config
       dlrun validate [OVERRIDES...]   check a config without running it
       dlrun resume RUN_DIR [OVERRIDES...]
                                       continue a stopped run from its last checkpoint, in its folder
       dlrun eval RUN_DIR [ckpt=best|last|PATH] [OVERRIDES...]
                                       test a run's checkpoint (data=... for other data of the same spec)
       dlrun summary SWEEP_DIR         a sweep's trials sorted by the objective, plots, the best trial's command
       dlrun summary RUN_DIR           a run's result and status (`crashed`: killed without a word; resume it)
       dlrun refine SWEEP_DIR [top=K]  a narrower search space around the best trials, as a command
       dlrun report SWEEP_DIR... [out=DIR]
                                       a study's overlaid curves, table and Markdown page (SWEEP_DIR/report/)
       dlrun init DIR                  a project of your own: a model, a dataset, an experiment and a test
       dlrun --help                    Hydra's help: groups, the config, its flags
"""

# Hydra flags after which no training happens, or a sweep does: no pre-validation then.
RUN_DIR_KEY = "hydra.run.dir"
HYDRA_PASSTHROUGH = ("-m", "--multirun", "--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i",
                     "--shell-completion", "-sc", "--resolve", "-p", "--package", "--config-path", "-cp",
                     "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun")


def _fail(problems, code: int = 2):
    print("dlrun: config error:\n  " + "\n  ".join(problems), file=sys.stderr)
    return code


def _composed(overrides, keep_hydra: bool = False):
    """(validated config, None) or (None, exit code after printing the problems)."""
    from dlrun.compose import compose, without_hydra
    from dlrun.schema import ConfigError, validate

    try:
        cfg = compose(overrides, return_hydra_config=keep_hydra)
        validate(without_hydra(cfg) if keep_hydra else cfg)
        return (cfg if keep_hydra else without_hydra(cfg)), None
    except ConfigError as error:
        return None, _fail(error.problems)


def cmd_ls(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from dlrun.catalogue import default_choices, groups

    catalogue, defaults = groups(), default_choices()
    wanted = args[:1]
    if wanted and wanted[0] not in catalogue:
        return _fail([f"ls {wanted[0]}: no such group; groups: {', '.join(catalogue)}"])
    table = Table(show_header=True, header_style="bold")
    for column in ("group", "option", "description"):
        table.add_column(column)
    for group, options in catalogue.items():
        if wanted and group != wanted[0]:
            continue
        for option, text in options.items():
            marker = " (default)" if defaults.get(group) == option else ""
            table.add_row(group, option + marker, text)
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return 0


def cmd_show(args) -> int:
    from omegaconf import OmegaConf

    cfg, code = _composed(args)
    if cfg is None:
        return code
    print(OmegaConf.to_yaml(cfg), end="")
    return 0


def cmd_validate(args) -> int:
    cfg, code = _composed(args)
    if cfg is None:
        return code
    print(f"ok: model={cfg.model.get('name', cfg.model.get('_target_'))} data={cfg.data.name} "
          f"optim={cfg.optim.name} lr={cfg.optim.lr} schedule={cfg.schedule.name} hardware={cfg.hardware.name}")
    return 0


def cmd_resume(args) -> int:
    from dlrun.commands.resume import main as resume

    return resume(args)


def cmd_eval(args) -> int:
    from dlrun.commands.evaluate import main as evaluate

    return evaluate(args)


def cmd_summary(args) -> int:
    """A sweep folder's table, or a run folder's result (a run killed without a word reads
    as crashed there, from its stale owner)."""
    from pathlib import Path

    from dlrun.summary import SUMMARY_FILE

    if args and (Path(args[0]) / SUMMARY_FILE).is_file():
        from dlrun.console import print_result
        from dlrun.summary import read_summary

        summary = read_summary(args[0])
        print_result(summary)
        return 0
    from dlrun.sweeps.commands import summary_main

    return summary_main(args)


def cmd_refine(args) -> int:
    from dlrun.sweeps.commands import refine_main

    return refine_main(args)


def cmd_report(args) -> int:
    from dlrun.report.command import report_main

    return report_main(args)


def cmd_init(args) -> int:
    from dlrun.commands.init_project import main as init_project

    return init_project(args)


SUBCOMMANDS = {"ls": cmd_ls, "show": cmd_show, "validate": cmd_validate, "resume": cmd_resume, "eval": cmd_eval,
               "summary": cmd_summary, "refine": cmd_refine, "report": cmd_report, "init": cmd_init}


def _quoted(text: str) -> str:
    """A value in Hydra's override grammar, whatever characters a path holds."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _claim_run_dir(args):
    """(args naming the run folder this process has claimed, that folder, None), or
    (None, None, exit code).
    Claimed before Hydra starts: Hydra would write into a folder shared by every run
    started in the same second."""
    from omegaconf import OmegaConf

    from dlrun.run_dirs import claim
    from dlrun.schema import ConfigError

    cfg, code = _composed(args, keep_hydra=True)
    if cfg is None:
        return None, None, code
    named = any(arg.split("=")[0].lstrip("+") == RUN_DIR_KEY for arg in args)
    try:
        run_dir = claim(OmegaConf.select(cfg, RUN_DIR_KEY), named)
    except ConfigError as error:
        return None, None, _fail(error.problems)
    kept = [arg for arg in args if arg.split("=")[0].lstrip("+") != RUN_DIR_KEY]
    return kept + [f"{RUN_DIR_KEY}={_quoted(str(run_dir))}"], run_dir, None


def _run_app(args) -> int:
    from dlrun.app import hydra_main

    sys.argv = ["dlrun", *args]
    try:
        hydra_main()
    except KeyboardInterrupt as stop:  # a signal stopped a sweep: its trial saved its checkpoint; no traceback
        print(f"dlrun: {stop or 'stopped'}", file=sys.stderr)
        return 130
    return 0


def run_hydra(args) -> int:
    """A single run: validate (exit 2 on a bad config), claim and hold its own run folder,
    then hand argv to Hydra. Sweeps and Hydra's own flags go to Hydra as they are."""
    from dlrun.distributed.env import external_world_size

    # ranks started by SLURM or torchrun share one folder that every rank must compute alike:
    # rank zero holds it once the run starts (dlrun.session)
    if any(arg.split("=")[0] in HYDRA_PASSTHROUGH for arg in args) or external_world_size() > 1:
        return _run_app(args)
    args, run_dir, code = _claim_run_dir(args)
    if args is None:
        return code
    from dlrun.run_dirs import holding
    from dlrun.schema import ConfigError

    try:
        with holding(run_dir):
            return _run_app(args)
    except ConfigError as error:
        return _fail(error.problems)


def main(argv=None) -> None:
    sys.path.insert(0, os.getcwd())  # as `python -m dlrun` has it: `_target_: mycode.Net` finds ./mycode
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("usage", "commands"):
        print(USAGE, end="")
        sys.exit(0)
    if args and args[0] in SUBCOMMANDS:
        sys.exit(SUBCOMMANDS[args[0]](args[1:]))
    sys.exit(run_hydra(args))
