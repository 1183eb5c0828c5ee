"""The submitit private API dlrun relies on (dlrun.base.submitit_private), checked on a real
submitit: a submitit upgrade that renames or reshapes it fails here, by name."""

from __future__ import annotations

import subprocess

from dlrun.base import submitit_private


def test_the_sacct_poll_sends_its_stderr_to_the_sweep_log(tmp_path):
    from submitit.slurm.slurm import SlurmInfoWatcher

    log = tmp_path / "slurm.log"
    submitit_private.scheduler_stderr_to(log)
    watcher = SlurmInfoWatcher()
    watcher.register_job("4242")
    command = watcher._make_command()
    assert command[:4] == ["sh", "-c", '"$@" 2>>"$0"', str(log)]
    assert command[4] == "sacct" and "4242" in command, "submitit polls job states with sacct -j ID"
    # what the wrapper does with a command's stderr: appended to the log, nothing on the terminal
    done = subprocess.run([*command[:4], "sh", "-c", "echo scheduler warning >&2"], capture_output=True, text=True)
    assert done.stderr == "" and log.read_text() == "scheduler warning\n"
    submitit_private.scheduler_stderr_to(tmp_path / "again.log")  # a second sweep in this process: not nested
    assert watcher._make_command()[:4] == ["sh", "-c", '"$@" 2>>"$0"', str(tmp_path / "again.log")]
