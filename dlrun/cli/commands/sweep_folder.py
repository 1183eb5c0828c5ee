"""`dlrun summary SWEEP_DIR|RUN_DIR` and `dlrun refine SWEEP_DIR [top=K]`: a finished (or
running) sweep read back from the study in its folder, or a run's result. Exit 2 on a bad
command or folder."""

from __future__ import annotations

import sys

from dlrun.base.errors import BadInput, refusing_bad_input

SUMMARY_USAGE = "usage: dlrun summary SWEEP_DIR   (the folder of a `dlrun -m` sweep)"
REFINE_USAGE = "usage: dlrun refine SWEEP_DIR [top=K]   (K: how many of the best trials shape the new space)"


def _sweep_folder(args, usage: str, options=()):
    """(folder, {option: value}) or BadInput with the usage."""
    if not args or "=" in args[0] or args[0].startswith("-"):
        raise BadInput(usage)
    chosen = {}
    for arg in args[1:]:
        key, _, value = arg.partition("=")
        if key not in options or not value:
            raise BadInput(f"{arg}: unknown argument; {usage}")
        chosen[key] = value
    return args[0], chosen


def readable_journal(folder):
    """The sweep's study, or BadInput in one line when its study.journal is not one Optuna can
    read (garbage, a JSON list, a record without its fields); other folders pass as they are."""
    from pathlib import Path

    from dlrun.sweeps.study import JOURNAL_FILE, load

    journal = Path(folder) / JOURNAL_FILE
    if not journal.is_file():
        return None
    try:
        return load(folder)
    except BadInput:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:  # Optuna's replay of the log
        reason = " ".join(f"{type(error).__name__}: {error}".split())[:160]
        raise BadInput(f"{journal}: not a readable Optuna journal ({reason}); the sweep folder is damaged") from None


def _run_folder_summary(folder) -> bool:
    """A run folder's result (a run killed without a word reads as crashed there, from its
    stale owner); False when `folder` is no run folder."""
    from pathlib import Path

    from dlrun.training.summary import SUMMARY_FILE

    if not (Path(folder) / SUMMARY_FILE).is_file():
        return False
    from dlrun.training.console import print_result
    from dlrun.training.summary import read_summary

    print_result(read_summary(folder))
    _draw_missing_curves(Path(folder))
    return True


def _draw_missing_curves(run_dir) -> None:
    """A population member's own figure, drawn when asked (its population drew one overlaid figure
    and the best member's): plots/curves.png from its metrics.csv, when it has none yet."""
    from dlrun.report.curves import plot_curves
    from dlrun.report.runs import METRICS_FILE, read_history

    if (run_dir / "plots" / "curves.png").is_file() or not (run_dir / METRICS_FILE).is_file():
        return
    path = plot_curves(read_history(run_dir), run_dir)
    if path is not None:
        print(f"curves: {path}")


@refusing_bad_input("summary")
def summary_main(args) -> int:
    if args and _run_folder_summary(args[0]):
        return 0
    from dlrun.report.sweep_table import summarize
    from dlrun.sweeps.reconcile import reconcile
    from dlrun.sweeps.study import load

    folder, _ = _sweep_folder(args, SUMMARY_USAGE)
    study = readable_journal(folder) or load(folder)  # no journal: load says what is missing
    reconcile(study, folder)  # as a sweep start does: the table shows what the trial folders say
    summarize(folder, study)
    return 0


@refusing_bad_input("refine")
def refine_main(args) -> int:
    folder, options = _sweep_folder(args, REFINE_USAGE, options=("top",))  # before importing optuna
    top = options.get("top")
    if top is not None and not (top.isdigit() and int(top) >= 1):
        raise BadInput(f"top={top}: expected an integer >= 1")
    from dlrun.sweeps.refine import refine_command
    from dlrun.sweeps.study import load, sweep_record

    study = readable_journal(folder) or load(folder)  # no journal: load says what is missing
    names = sweep_record(study).get("objectives") or []
    if len(names) > 1:  # on stderr: stdout stays the command alone
        print(f"refine: a multi-objective sweep; the new space is around the best trials by the first objective "
              f"({names[0]}) only", file=sys.stderr)
    print(refine_command(study, int(top) if top else None))
    return 0
