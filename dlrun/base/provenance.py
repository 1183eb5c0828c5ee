"""Facts about the code and the machine a run starts from: the git state of a folder's
repository (commit, branch, dirty flag, the uncommitted diff, untracked files), the versions
of the packages a result depends on, the host and its GPUs; a repository's remote URL is kept
with its password masked (dlrun.base.secrets), so no fact carries a secret into a file.

Git is asked through its command line with a short timeout (no git, no repository, a hung
network file system: no git facts, never an error). Package versions come from the installed
distributions' metadata: nothing is imported to read them.
"""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass, field

from dlrun.base.secrets import masked

GIT_TIMEOUT_S = 10  # git and nvidia-smi: a hung network file system or driver must not hold a run
# The distributions whose versions change a result, as their metadata names them.
PACKAGES = ("torch", "lightning", "hydra-core", "omegaconf", "optuna", "numpy", "dlrun")
MAX_UNTRACKED = 200  # a folder of generated files is listed once (git's --directory), and the list is capped


@dataclass(frozen=True)
class GitState:
    root: str
    commit: str | None  # None in a repository without a commit yet
    branch: str | None  # None on a detached HEAD
    dirty: bool  # tracked files changed since the commit (untracked files are listed, not counted)
    diff: str  # `git diff HEAD`: staged and unstaged changes of tracked files
    untracked: list = field(default_factory=list)
    remote: str | None = None  # origin's URL, its password masked

    def as_record(self, diff_file: str | None) -> dict:
        return {"repository": self.root, "commit": self.commit, "branch": self.branch, "dirty": self.dirty,
                "diff": diff_file, "untracked": self.untracked, "remote": self.remote}


def _git(folder, *args) -> str | None:
    """git's stdout, or None when git is missing, fails or hangs."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(folder) -> GitState | None:
    """The git state of the repository holding `folder`; None when it is in none."""
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    root = root.strip()  # the whole repository, whatever subfolder the run started in
    commit = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    branch = _git(root, "symbolic-ref", "-q", "--short", "HEAD")
    diff = (_git(root, "diff", "HEAD", "--binary") or "") if commit else ""
    listed = _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--directory") or ""
    untracked = [name for name in listed.split("\0") if name]
    remote = _git(root, "remote", "get-url", "origin")
    return GitState(root, commit.strip() if commit else None, branch.strip() if branch else None,
                    bool(diff), diff, untracked[:MAX_UNTRACKED], masked(remote.strip()) if remote else None)


def package_versions() -> dict:
    """{distribution: version or None when not installed}, python's too."""
    return dict(_package_versions())


@functools.cache  # a process's packages stay as they were loaded: read once for all its runs (a sweep's trials)
def _package_versions() -> tuple:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return tuple(versions.items())


def gpus() -> list:
    """The machine's GPUs as nvidia-smi names them ([] without it). Asked outside the process:
    torch would create a CUDA context here, in a process that may only launch the ranks."""
    return list(_gpus())


@functools.cache  # the machine's GPUs: nvidia-smi asked once a process, not once a trial
def _gpus() -> tuple:
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in done.stdout.splitlines() if line.strip()) if done.returncode == 0 else ()


def host() -> dict:
    return {"name": socket.gethostname(), "platform": platform.platform(), "python": sys.executable}
