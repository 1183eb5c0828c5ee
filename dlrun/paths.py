"""Where dlrun's config tree lives: conf/ beside the package in a clone, dlrun/conf in a wheel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def config_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"dlrun's config tree was not found next to {here}")
