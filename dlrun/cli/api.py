"""`dlrun.run(overrides)`: the CLI's run path as a function, for notebooks and tests."""

from __future__ import annotations

from dlrun.training.summary import with_absolute_paths


def run(overrides=None, run_dir=None, show_console: bool = False) -> dict:
    """The `dlrun` command's run path as a function: the overrides prepared as its command
    line is (composed once, validated once: ConfigError on bad input, before any folder exists),
    the run folder claimed (a new one, or `run_dir`, which must be new or empty), trained and
    tested; return the summary dict (its run_dir absolute). With `show_console`, the header and
    result are printed as the command prints them; the run's log goes to its run.log."""
    from dlrun.cli.run_path import RUN_DIR_KEY, execute, prepare_single
    from dlrun.config.overrides import hydra_quoted

    overrides = list(overrides or [])
    if run_dir is not None:  # checked and claimed as the command's folder; its problems say run_dir
        overrides.append(f"{RUN_DIR_KEY}={hydra_quoted(str(run_dir))}")
    summary = execute(prepare_single(overrides, show_console, "dlrun.run()", folder_key="run_dir"))
    return with_absolute_paths(summary, summary["run_dir"])
