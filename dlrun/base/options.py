"""Named options and their knobs, declared once; implementations imported only when used.

A config group (optim, schedule, init, model, data) is a `Group`: a table of `Option`s,
picked by the node's `name`, and one table of `Knob`s that its options refer to by name
(a knob several options take, such as lr, is declared once). Settings that are no choice
(trainer, hardware, callbacks) are plain {dotted key: Knob} tables. Validation, `dlrun ls`
and the tests read these declarations; the YAML files hold the defaults.

Tables of names must be readable without torch (for `dlrun ls`, validation and error
messages), so each entry names its implementation as "package.module:attribute".
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from dlrun.base.rules import Rule


@dataclass(frozen=True)
class Knob:
    rule: Rule
    meaning: str  # one line: what it does (shown by `dlrun ls GROUP OPTION`)
    required: bool = False  # every run reads it: a config without it (`~key`) is refused


@dataclass(frozen=True)
class Constraint:
    """A rule over several knobs of one node, reported as `GROUP[.where]=NODE: expected ALLOWED`."""
    rule: Rule
    where: str = ""  # the sub-node it reads ("clip" for optim.clip); "" for the option's own node


@dataclass(frozen=True, kw_only=True)
class Option:
    """One named choice. What it is, in one line, is its YAML's first comment (`dlrun ls`)."""
    impl: Optional[str]  # "package.module:attribute"; None: nothing to build (a no-op choice)
    knobs: tuple = ()  # names in its group's knob table (besides the group's common knobs)
    fixed: Mapping = field(default_factory=dict)  # arguments that make the variant, not knobs
    constraints: tuple = ()  # Constraint, over this option's node


@dataclass(frozen=True)
class Group:
    """A config group whose `name` picks one of `options`."""
    key: str  # "optim": where its node sits in the config
    options: Mapping[str, Option]
    knobs: Mapping[str, Knob]  # every knob of the group's options; a nested one as "clip.norm"
    common: tuple = ()  # knobs every option takes (schedule.interval, data.batch_size, ...)
    constraints: tuple = ()  # Constraint, over every option's node
    # `name` checked against the options with the other rules; False where the group reports
    # an unknown name its own way (a model or data may be a user's _target_ instead)
    checks_name: bool = True

    def knobs_of(self, name: str) -> tuple:
        """The knobs option `name` takes: the group's common ones, then its own."""
        return self.common + tuple(knob for knob in self.options[name].knobs if knob not in self.common)


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
