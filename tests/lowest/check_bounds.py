"""`make test-lowest`, step 1: every direct dependency of pyproject.toml (extras included) is
installed at exactly its declared lower bound, so the tests that follow test the promise."""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared() -> list[tuple[str, str]]:
    """(distribution, lower bound) of each direct dependency; dlrun's own extras left out."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = [*project["dependencies"], *(line for extra in project["optional-dependencies"].values()
                                         for line in extra)]
    pairs = []
    for line in lines:
        if line.startswith("dlrun["):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([0-9.]+)(,<[0-9.]+)?", line.replace(" ", ""))
        if match is None:
            raise SystemExit(f"pyproject.toml: {line!r} has no '>=' lower bound")
        pairs.append((match.group(1), match.group(3)))
    return pairs


def same(a: str, b: str) -> bool:
    """2.4 == 2.4.0 (trailing zeros aside)."""
    def parts(text):
        numbers = [int(part) for part in text.split(".")]
        while numbers and numbers[-1] == 0:
            numbers.pop()
        return numbers
    return parts(a) == parts(b)


def main() -> int:
    wrong = []
    for name, bound in declared():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if not same(installed.split("+")[0], bound):
            wrong.append(f"{name}: declared >={bound}, installed {installed}")
        print(f"{name:28s} {installed}")
    print("\n".join(wrong) or f"all {len(declared())} direct dependencies at their lower bound", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
