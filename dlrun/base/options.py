"""Named entries whose implementation is imported only when used.

Tables of names must be readable without torch (for `dlrun ls`, validation and error
messages), so each entry names its implementation as "package.module:attribute".
"""

from __future__ import annotations

import difflib
import importlib
from typing import Iterable


def load_object(path: str):
    """Import "package.module:attribute" and return the attribute."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def unknown_name_message(kind: str, name, valid: Iterable[str]) -> str:
    valid = sorted(valid)
    message = f"unknown {kind} {name!r}; valid: {', '.join(valid)}"
    close = difflib.get_close_matches(str(name), valid, n=1)
    return message + (f" (did you mean {close[0]!r}?)" if close else "")


def lookup(table: dict, kind: str, name):
    """table[name], or a ValueError that lists the valid names."""
    if name not in table:
        raise ValueError(unknown_name_message(kind, name, table))
    return table[name]
