"""`dlrun init DIR`: a project of one's own that runs as it is, whose own tests pass."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from test_own_code import dlrun


def test_init_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = dlrun(tmp_path, "init", "taken")
    assert result.returncode == 2 and "exists and is not an empty folder" in result.stderr
    assert sorted(path.name for path in (tmp_path / "taken").iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_init_writes_a_project_whose_experiment_runs_and_whose_test_passes(tmp_path):
    result = dlrun(tmp_path, "init", "myproject")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "myproject"
    assert {"conf/model/tinynet.yaml", "conf/data/rings.yaml", "conf/experiment/rings.yaml", "mycode/models.py",
            "mycode/data.py", "tests/test_project.py"} <= {p.relative_to(project).as_posix() for p in project.rglob("*")}
    shown = dlrun(project, "validate", "hydra.searchpath=[file://conf]", "+experiment=rings")
    assert shown.returncode == 0 and shown.stdout.startswith("ok: model=tinynet data=rings"), shown.stderr
    # the project's own test trains its experiment through the CLI and asserts test/acc >= 0.9
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                            capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert "3 passed" in tested.stdout
