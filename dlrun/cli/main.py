"""The `dlrun` command: subcommands first, else Hydra's own CLI (overrides, -m, --cfg, --help).

Nothing here imports torch or lightning: listing, showing and rejecting configs stay fast.
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: dlrun [OVERRIDES...]            train one experiment (Hydra overrides: optim=sgd optim.lr=0.1)
       dlrun -m [OVERRIDES...]         sweep (comma lists, or interval/choice search spaces)
       dlrun ls [GROUP]                config groups and their options (--config-dir DIR: yours too)
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

RUN_DIR_KEY = "hydra.run.dir"

def _fail(problems, code: int = 2):
    print("dlrun: config error:\n  " + "\n  ".join(problems), file=sys.stderr)
    return code


def _checked(args, outputs: bool = True):
    """(dlrun.config.precheck.Checked, None), or (None, exit code after printing the problems)."""
    from dlrun.config.precheck import check_command_line
    from dlrun.config.validate import ConfigError

    try:
        return check_command_line(args, outputs=outputs), None
    except ConfigError as error:
        return None, _fail(error.problems)


def cmd_ls(args) -> int:
    from dlrun.cli.commands.listing import main as listing

    return listing(args)


def cmd_show(args) -> int:
    from omegaconf import OmegaConf

    from dlrun.config.compose import without_hydra

    checked, code = _checked(args, outputs=False)
    if checked is None:
        return code
    print(OmegaConf.to_yaml(without_hydra(checked.config)), end="")
    return 0


def cmd_validate(args) -> int:
    from dlrun.config.compose import without_hydra

    checked, code = _checked(args)
    if checked is None:
        return code
    cfg = without_hydra(checked.config)
    print(f"ok: model={cfg.model.get('name', cfg.model.get('_target_'))} data={cfg.data.name} "
          f"optim={cfg.optim.name} lr={cfg.optim.lr} schedule={cfg.schedule.name} hardware={cfg.hardware.name}")
    return 0


def cmd_resume(args) -> int:
    from dlrun.cli.commands.resume import main as resume

    return resume(args)


def cmd_eval(args) -> int:
    from dlrun.cli.commands.evaluate import main as evaluate

    return evaluate(args)


def cmd_summary(args) -> int:
    """A sweep folder's table, or a run folder's result (a run killed without a word reads
    as crashed there, from its stale owner)."""
    from pathlib import Path

    from dlrun.training.summary import SUMMARY_FILE

    if args and (Path(args[0]) / SUMMARY_FILE).is_file():
        from dlrun.training.console import print_result
        from dlrun.training.summary import read_summary

        summary = read_summary(args[0])
        print_result(summary)
        return 0
    from dlrun.cli.commands.sweep_folder import summary_main

    return summary_main(args)


def cmd_refine(args) -> int:
    from dlrun.cli.commands.sweep_folder import refine_main

    return refine_main(args)


def cmd_report(args) -> int:
    from dlrun.cli.commands.report import report_main

    return report_main(args)


def cmd_init(args) -> int:
    from dlrun.cli.commands.init_project import main as init_project

    return init_project(args)


SUBCOMMANDS = {"ls": cmd_ls, "show": cmd_show, "validate": cmd_validate, "resume": cmd_resume, "eval": cmd_eval,
               "summary": cmd_summary, "refine": cmd_refine, "report": cmd_report, "init": cmd_init}


def _claim_run_dir(args, checked):
    """(args naming the run folder this process has claimed, that folder). Claimed before
    Hydra starts: Hydra would write into a folder shared by every run started in the same
    second. ConfigError when a folder named on purpose holds a run."""
    from omegaconf import OmegaConf

    from dlrun.config.overrides import hydra_quoted
    from dlrun.training.run_dirs import claim

    named = any(arg.split("=")[0].lstrip("+") == RUN_DIR_KEY for arg in args)
    run_dir = claim(OmegaConf.select(checked.config, RUN_DIR_KEY), named)  # ${now:} resolved once, here
    kept = [arg for arg in args if arg.split("=")[0].lstrip("+") != RUN_DIR_KEY]
    return kept + [f"{RUN_DIR_KEY}={hydra_quoted(str(run_dir))}"], run_dir


def _run_app(args) -> int:
    from dlrun.cli.app import hydra_main

    sys.argv = ["dlrun", *args]
    try:
        hydra_main()
    except KeyboardInterrupt as stop:  # a signal stopped a sweep: its trial saved its checkpoint; no traceback
        print(f"dlrun: {stop or 'stopped'}", file=sys.stderr)
        return 130
    return 0


def _owns_its_folder(checked) -> bool:
    """A single training run started here: not a sweep, not --cfg/--help, not one of several
    ranks started by SLURM or torchrun (they share one folder that every rank computes
    alike; rank zero holds it once the run starts, in dlrun.training.session)."""
    from dlrun.distributed.env import external_world_size

    line = checked.command_line
    return not (line.multirun or line.hydra_only or line.show_cfg is not None or external_world_size() > 1)


def run_hydra(args) -> int:
    """Check the command line (exit 2 on bad input, before any folder exists); a single run
    then claims and holds its own run folder; then argv goes to Hydra."""
    checked, code = _checked(args)
    if code is not None:
        return code
    if not _owns_its_folder(checked):
        return _run_app(args)
    from dlrun.training.run_dirs import holding
    from dlrun.config.validate import ConfigError

    try:
        args, run_dir = _claim_run_dir(args, checked)
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
