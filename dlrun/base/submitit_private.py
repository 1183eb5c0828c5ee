"""Every use of submitit's private API, in one place, each with why no public API does. A
submitit upgrade that breaks one breaks it here, and tests/test_submitit_private.py says which.
"""

from __future__ import annotations

from pathlib import Path


def scheduler_stderr_to(path: Path) -> None:
    """Run the sacct command submitit polls job states with so that its stderr is appended to
    `path`. Why: on a cluster without job accounting sacct prints 'Slurm accounting storage is
    disabled' to the terminal on every poll (each few seconds); submitit runs it with
    subprocess.check_output from SlurmInfoWatcher._make_command and has no option for stderr.
    Idempotent: a second call moves the stderr to the new path."""
    from submitit.slurm.slurm import SlurmInfoWatcher

    original = getattr(SlurmInfoWatcher, "_dlrun_make_command", SlurmInfoWatcher._make_command)

    def make_command(self):
        command = original(self)
        if command is None:
            return None
        return ["sh", "-c", '"$@" 2>>"$0"', str(path), *command]

    SlurmInfoWatcher._dlrun_make_command = original
    SlurmInfoWatcher._make_command = make_command
