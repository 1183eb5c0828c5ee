"""Where dlrun's config tree lives: dlrun/conf, in a clone (where conf/ links to it) and in a wheel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def config_dir() -> Path:
    here = Path(__file__).resolve().parent.parent  # dlrun/, beside base/
    candidate = here / "conf"
    if not (candidate / "config.yaml").is_file():
        raise FileNotFoundError(f"dlrun's config tree was not found in {candidate}")
    return candidate
