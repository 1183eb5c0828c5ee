"""A throwaway PostgreSQL 15 server for the tests: initdb in a folder of its own, on a free
port of 127.0.0.1, stopped and started again on the same port when a test needs an outage.
Skips the test where the binaries (or the driver) are absent."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command):
    done = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout}{done.stderr}"


class PostgresServer:
    """`url`: postgresql://postgres:not-written@127.0.0.1:PORT/sweeps (trust auth ignores the
    password, which is there for the tests that check dlrun never writes it)."""

    def __init__(self):
        if not (PG_BIN / "initdb").is_file() or shutil.which("runuser") is None:
            pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (or no runuser)")
        pytest.importorskip("psycopg", reason='the PostgreSQL driver: pip install "dlrun[postgres]"')
        # initdb refuses to run as root: the server runs as the postgres user, in a folder of its own
        # (pytest's tmp folders are private to root)
        self.root = Path(tempfile.mkdtemp(prefix="dlrun-postgres-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data, self.port = self.root / "data", free_port()
        _as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust")
        self.start()
        _as_postgres(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "sweeps")
        self.url = f"postgresql://postgres:not-written@127.0.0.1:{self.port}/sweeps"

    def start(self) -> None:
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w", "-o",
                     f"-h 127.0.0.1 -p {self.port} -k {self.root}", "start")

    def stop(self) -> None:
        """As an administrator's restart does: open connections are cut, new ones refused."""
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
