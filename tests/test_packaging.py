"""The config tree ships inside the wheel: an installed dlrun finds its configs without a clone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO


def test_wheel_ships_the_config_tree_and_runs_from_it(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO),
                    "-w", str(tmp_path / "wheel")], check=True, capture_output=True)
    wheel = next((tmp_path / "wheel").glob("dlrun-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(name).relative_to("dlrun/conf").as_posix() for name in names if name.startswith("dlrun/conf/")}
    in_clone = {path.relative_to(REPO / "dlrun" / "conf").as_posix() for path in (REPO / "dlrun" / "conf").rglob("*.yaml")}
    assert in_clone and shipped == in_clone

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    probe = "import dlrun.base.paths, sys; print(dlrun.base.paths.config_dir()); from dlrun.cli.main import main; main(['validate'])"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    config_line, ok_line = result.stdout.splitlines()[:2]
    assert config_line == str(site / "dlrun" / "conf")
    assert ok_line.startswith("ok: model=mlp data=digits")
