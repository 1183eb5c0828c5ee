"""The building blocks of safe concurrent writes: atomic replacement and folder ownership."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys

import pytest

from dlrun.base import atomic
from dlrun.base.ownership import OWNER_FILE, FolderTaken, Heartbeat, live_owner, read_owner


def test_a_write_that_fails_midway_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    atomic.write_text(target, "good")
    with pytest.raises(RuntimeError):
        with atomic.replacing(target) as handle:
            handle.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "good"
    assert [path.name for path in tmp_path.iterdir()] == ["summary.json"]


def test_a_full_disk_is_named_as_such(tmp_path):
    target = tmp_path / "x.ckpt"
    with pytest.raises(atomic.OutOfSpace, match="x.ckpt"):
        with atomic.replacing(target, "wb"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert atomic.is_out_of_space(RuntimeError("wrapped").with_traceback(None)) is False
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("while saving") from inner
    except RuntimeError as outer:
        assert atomic.is_out_of_space(outer)


def _owner_file(folder, pid):
    folder.mkdir(exist_ok=True)
    import time

    (folder / OWNER_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                  "started_at": time.time(), "heartbeat_at": time.time()}))


def test_a_live_owner_keeps_its_folder_and_a_dead_one_can_be_taken_over(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _owner_file(tmp_path, other.pid)
        assert live_owner(tmp_path).pid == other.pid
        with pytest.raises(FolderTaken, match=f"pid {other.pid} on {socket.gethostname()}"):
            Heartbeat(tmp_path).take(take_over_dead=True)
    finally:
        other.kill()
        other.wait()
    assert live_owner(tmp_path) is None  # same host, pid gone: dead at once
    with pytest.raises(FolderTaken, match="holds a run"):
        Heartbeat(tmp_path).take()  # a fresh run never lands in a used folder
    beat = Heartbeat(tmp_path).take(take_over_dead=True)
    assert read_owner(tmp_path).pid == beat.owner.pid
    beat.release()
    assert not (tmp_path / OWNER_FILE).exists()


def test_two_claims_of_one_new_name_get_two_folders(tmp_path):
    from dlrun.training.run_dirs import claim_new

    first, second = claim_new(tmp_path / "12-00-00_mlp"), claim_new(tmp_path / "12-00-00_mlp")
    assert (first.name, second.name) == ("12-00-00_mlp", "12-00-00_mlp-2")
