"""Every use of Hydra's private API (hydra._internal, underscored attributes, the text of its
error messages), in one place, each with why no public API does. A Hydra upgrade that
breaks one breaks it here, and tests/test_hydra_private.py says which.

The public API is used everywhere else: hydra.main for the app, the config loader a
sweeper is handed (load_sweep_config), hydra.core.utils.run_job, the launcher and sweeper
plugin interfaces, the override parser.

In the base layer because the config layer and the sweeper plugin both need it. Hydra is
imported inside each helper: importing this module imports nothing.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path


def args_parser():
    """Hydra's own argparse parser of the app's command line (-m, --cfg, -cp, -cn,
    --config-dir, ...). Why: `dlrun`, `dlrun ls/show/validate` and the Hydra app must read a
    command line alike, and Hydra exposes its flags only through this internal parser."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def override_dirname(overrides: list, cfg) -> str:
    """hydra.job.override_dirname of parsed `overrides` under `cfg`'s hydra.job.config settings,
    as Hydra computes it while composing. Why: a sweep trial derived from the last composed one
    (dlrun.sweeps.trial_config) records the same field, and Hydra's rule is in hydra._internal."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    settings = cfg.hydra.job.config.override_dirname
    return get_overrides_dirname(overrides=overrides, exclude_keys=list(settings.exclude_keys),
                                 item_sep=settings.item_sep, kv_sep=settings.kv_sep)


def primary_config_dir(app_file: Path, config_path: str) -> str:
    """The folder Hydra reads `--config-path` as, relative to the file declaring @hydra.main.
    Why: dlrun composes outside the app (precheck, ls, show) and must search where the app does."""
    from hydra._internal.utils import compute_search_path_dir

    return compute_search_path_dir(str(app_file), None, config_path)


@contextmanager
def app_hydra(primary_dir: str, extra_dir: str | None = None):
    """Hydra set up as the app sets it up (search path: the primary folder, then --config-dir's
    folder ahead of the schemas), yielding the object whose compose_config(name, overrides,
    run_mode, from_shell=False) composes; the previous global Hydra is restored after. Why:
    the public compose API (hydra.initialize_config_dir + hydra.compose) composes in RUN mode
    only (a sweep's comma lists and search spaces would be refused) and takes no second
    folder ahead of the schemas, as --config-dir puts it."""
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    backup = get_gh_backup()
    version.setbase("1.3")
    search_path = create_config_search_path(primary_dir)
    if extra_dir:
        search_path.prepend(provider="command-line", path=f"file://{Path(extra_dir).absolute()}",
                            anchor=SearchPathQuery(provider="schema"))
    try:
        Hydra.create_main_hydra2(task_name="app", config_search_path=search_path)
        yield GlobalHydra.instance().hydra
    finally:
        restore_gh_from_backup(backup)


def job_callbacks(cfg):
    """Hydra's callbacks of a composed config (hydra.callbacks), as its app makes them. Why:
    dlrun runs a checked config through hydra.core.utils.run_job and a sweeper itself (its
    app would compose the config twice more), and both take a HydraContext that holds these;
    Hydra exports the class from hydra._internal only."""
    from hydra._internal.callbacks import Callbacks

    return Callbacks(cfg)


def reporting_errors(function):
    """`function()` with Hydra's own error report, as its app gives it: a compact error (a
    sweep that cannot start) as its message alone, anything else as a traceback cut to the
    job's frames; exit 1. Why: Hydra exports it from hydra._internal only."""
    from hydra._internal.utils import run_and_report

    return run_and_report(function)


def basic_launcher():
    """Hydra's basic launcher class. Why: the sweeper runs a basic launcher's trial itself, in
    process, on the config it has just composed and checked (the launcher would compose it
    again), so it must recognise one; a population runs a trial it cannot hold with one. Hydra
    registers it as a plugin but exports it from hydra._internal only."""
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    return BasicLauncher


# Hydra's basic launcher logs every job's overrides at INFO ("#0 : optim.lr=0.01"), which the
# sweep's console says itself; its logger is named after its private module.
BASIC_LAUNCHER_LOGGER = "hydra._internal.core_plugins.basic_launcher"


def quiet_basic_launcher() -> None:
    """Only the basic launcher's warnings reach the console. Set once for the sweep's process:
    Hydra's logging configs leave loggers they do not name as they are."""
    import logging

    logging.getLogger(BASIC_LAUNCHER_LOGGER).setLevel(logging.WARNING)


def job_exception(returned):
    """The exception a failed job (JobReturn) raised, as an object. Why: JobReturn's public
    return_value re-raises it; the sweeper wants to read it, not raise it."""
    return returned._return_value


# The text of Hydra's composition errors (its exceptions carry no fields): each pattern's
# groups are what dlrun's one-line messages name. Why: a user's typo must come back as one
# line naming the key, the value and what is allowed, and only the message says which key.
MESSAGES = {
    "no_such_option": r"Could not find '([^/']+)/([^']+)'",  # group, option
    "option_listed": r"^\t(\S+)$",  # each available option, under no_such_option
    "not_in_struct": r"Could not override '([^']+)'\.\s*To append",  # key
    "unknown_key": r"Could not override '([^']+)'",  # key (any override Hydra refused)
    "not_in_defaults": r"Could not override '([^']+)'\. No match in the defaults list",  # group
    "already_there": r"Could not append to config\. An item is already at '([^']+)'",  # key
    "nothing_to_delete": r"Could not delete from config\. '([^']+)' does not exist",  # key
    "chosen_twice": r"(\S+) appears more than once in the final defaults list",  # group
    "no_primary_config": r"Cannot find primary config '([^']+)'",  # config name
    "no_primary_folder": r"Primary config directory not found",
}


def error_says(kind: str, text: str):
    """The match of Hydra's message `kind` (MESSAGES) in an error's text, or None."""
    return re.search(MESSAGES[kind], text)


def options_listed(text: str) -> list:
    """The available options Hydra lists under a no_such_option message."""
    return re.findall(MESSAGES["option_listed"], text, flags=re.M)
