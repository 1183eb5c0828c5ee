"""No secret written (dlrun.base.secrets): a sweep on a real PostgreSQL server that requires
a password (scram-sha-256), reached the three ways the README gives, leaves the password in
no file under the sweep folder and on no console line. Skipped where PostgreSQL's binaries or
its driver are absent."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import run_cli
from dlrun.base.secrets import hide_in_arguments, masked, revealed
from test_sweep_study import LOG_LR
from postgres_server import PG_BIN, _as_postgres, free_port as _free_port
from test_sweep_workers import ONE_THREAD, QUICK

PASSWORD = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def guarded_postgres():
    """(host:port, database) of a throwaway PostgreSQL whose role `sweeper` logs in with PASSWORD only."""
    if not (PG_BIN / "initdb").is_file() or shutil.which("runuser") is None:
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (or no runuser)")
    pytest.importorskip("psycopg", reason='the PostgreSQL driver: pip install "dlrun[postgres]"')
    root = Path(tempfile.mkdtemp(prefix="dlrun-postgres-secret-"))
    shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    _as_postgres(PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256")
    _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-o",
                 f"-h 127.0.0.1 -p {port} -k {root}", "start")
    try:  # over the local socket (trust): the role and its database
        _as_postgres(PG_BIN / "psql", "-h", root, "-p", port, "-U", "postgres", "-c",
                     f"CREATE ROLE sweeper LOGIN PASSWORD '{PASSWORD}'")
        _as_postgres(PG_BIN / "createdb", "-h", root, "-p", port, "-U", "postgres", "-O", "sweeper", "sweeps")
        yield f"127.0.0.1:{port}", "sweeps"
    finally:
        _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def assert_written_nowhere(sweep_dir: Path, *outputs: str) -> int:
    """The password in no file under the sweep folder and in no output; how many files were read."""
    files = [path for path in sweep_dir.rglob("*") if path.is_file()]
    assert any(path.name == "hydra.yaml" for path in files) and (sweep_dir / "multirun.yaml").is_file()
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path
    for output in outputs:
        assert PASSWORD not in output, output[-2000:]
    return len(files)


def test_a_password_in_a_url_is_masked_and_revealed_only_to_the_storage(monkeypatch):
    monkeypatch.delenv("DLRUN_SECRETS", raising=False)
    url = f"postgresql://me:{PASSWORD}@db:5432/sweeps"
    assert masked(f"hydra.sweeper.storage={url}") == "hydra.sweeper.storage=postgresql://me:***@db:5432/sweeps"
    assert masked("postgresql://me@db/sweeps") == "postgresql://me@db/sweeps"  # no password, nothing to hide
    args = hide_in_arguments(["optim.lr=0.1", f"hydra.sweeper.storage={url}", f"+data.url={url}"])
    assert args == ["optim.lr=0.1", "hydra.sweeper.storage=postgresql://me:***@db:5432/sweeps", f"+data.url={url}"]
    assert revealed("postgresql://me:***@db:5432/sweeps") == url and revealed("optim.lr=0.1") == "optim.lr=0.1"


@pytest.mark.slow
@pytest.mark.parametrize("way", ["in_the_url", "oc_env", "pgpassword"])
def test_no_file_and_no_console_line_holds_the_storage_password(tmp_path, guarded_postgres, way):
    where, database = guarded_postgres
    with_password, without = f"postgresql://sweeper:{PASSWORD}@{where}/{database}", f"postgresql://sweeper@{where}/{database}"
    storage, env = {"in_the_url": (with_password, {}),
                    "oc_env": ("${oc.env:DLRUN_TEST_DB_URL}", {"DLRUN_TEST_DB_URL": with_password}),
                    "pgpassword": (without, {"PGPASSWORD": PASSWORD})}[way]
    sweep_dir = tmp_path / way
    result = run_cli(["-m", *QUICK, LOG_LR, "hydra.sweeper.n_trials=1", f"hydra.sweeper.storage={storage}",
                      f"hydra.sweeper.study_name={way}", f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path,
                     env={**ONE_THREAD, **env})
    assert result.returncode == 0, result.output[-3000:]
    assert f"sweep {sweep_dir}: 1 trial (1 completed)" in result.stdout or "1 completed" in result.stdout, result.stdout
    if way == "in_the_url":
        assert f"postgresql://sweeper:***@{where}/{database}" in (sweep_dir / "multirun.yaml").read_text()
    if way == "oc_env":  # the interpolation is written, not what it resolves to
        assert "${oc.env:DLRUN_TEST_DB_URL}" in (sweep_dir / "0" / ".hydra" / "hydra.yaml").read_text()
    summary = run_cli(["summary", str(sweep_dir)], cwd=tmp_path, env={"PGPASSWORD": PASSWORD})  # study.json: no password
    assert summary.returncode == 0 and "1 completed" in summary.stdout, summary.output
    assert assert_written_nowhere(sweep_dir, result.output, summary.output) > 10


@pytest.mark.slow
def test_the_server_refuses_a_sweep_without_the_password_and_says_so_without_it(tmp_path, guarded_postgres):
    where, database = guarded_postgres
    wrong = run_cli(["-m", *QUICK, LOG_LR, "hydra.sweeper.n_trials=1", "hydra.sweeper.study_name=x",
                     f"hydra.sweeper.storage=postgresql://sweeper:not-{PASSWORD}@{where}/{database}",
                     f"hydra.sweep.dir={tmp_path / 'refused'}"], cwd=tmp_path, env={"PGPASSWORD": ""})
    assert wrong.returncode == 2, wrong.output[-3000:]
    assert "password authentication failed" in wrong.output and PASSWORD not in wrong.output
