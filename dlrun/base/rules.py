"""What a knob's value may be: a Rule is a check plus the text that says what it allows.

The option tables (dlrun/recipe, models, data, callbacks, loggers) declare each knob with
one of these; dlrun.config.validate applies them. Standard library only: validation and
`dlrun ls` must not import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    allowed: str


# Counts and sizes end up in C integers (tensor shapes, loop counters): 32 bits is what
# every backend takes. Seeds go to numpy's and torch's generators: numpy takes 32 bits.
LARGEST_INT = 2**31 - 1
SEED_LIMIT = 2**32


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite int or float: nan, inf and 1e400 (which reads as inf) are no setting."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def in_range(v, low=None, high=LARGEST_INT) -> bool:
    return is_int(v) and (low is None or v >= low) and v <= high


def integer(low=None, high=LARGEST_INT) -> Rule:
    bound = "2**31" if high == LARGEST_INT else f"2**{(high + 1).bit_length() - 1}"
    text = "an integer" + (f" >= {low}" if low is not None else "") + f" (below {bound})"
    return Rule(lambda v: in_range(v, low, high), text)


def existing_path(value) -> bool:
    try:
        return Path(value).exists()
    except OSError:  # e.g. a name longer than the filesystem takes
        return False


def number(low=None, high=None, low_open=False, high_open=False) -> Rule:
    def check(v):
        if not is_number(v):
            return False
        if low is not None and (v <= low if low_open else v < low):
            return False
        return high is None or (v < high if high_open else v <= high)

    left = "" if low is None else f"{'>' if low_open else '>='} {low}"
    right = "" if high is None else f"{'<' if high_open else '<='} {high}"
    return Rule(check, "a finite number " + " and ".join(part for part in (left, right) if part))


def one_of(choices) -> Rule:
    choices = tuple(choices)
    return Rule(lambda v: v in choices, "one of: " + ", ".join(map(str, choices)))


def text(what: str) -> Rule:
    """A non-empty string; `what` says which (a file path, a column name)."""
    return Rule(lambda v: isinstance(v, str) and v != "", what)


def optional_text(what: str) -> Rule:
    """null or a string; `what` says what null means and what the string is."""
    return Rule(lambda v: v is None or isinstance(v, str), what)


def string_list(what: str) -> Rule:
    return Rule(lambda v: isinstance(v, (list, tuple)) and all(isinstance(t, str) and t for t in v), what)


BOOLEAN = Rule(lambda v: isinstance(v, bool), "true or false")
FRACTION_OR_COUNT = Rule(lambda v: in_range(v, 1) or (isinstance(v, float) and 0 < v <= 1),
                         "a fraction in (0, 1] or a whole number of batches >= 1")
FRACTION_COUNT_OR_OFF = Rule(lambda v: FRACTION_OR_COUNT.check(v) or v == 0,
                             "0 (off), a fraction in (0, 1] or a whole number of batches >= 1")
BETAS = Rule(lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(is_number(b) and 0 <= b < 1 for b in v),
             "two numbers in [0, 1), e.g. [0.9, 0.999]")
OFF_OR_POSITIVE = Rule(lambda v: v is None or (is_number(v) and v > 0), "null (off) or a number > 0")
MILESTONES = Rule(lambda v: isinstance(v, (list, tuple)) and all(in_range(m, 1) for m in v),
                  "a list of integers >= 1 (scheduler steps), e.g. [10, 15]")
NAMES = string_list("a list of module-name patterns, e.g. [stem, 'body.*']")
STRING_MAP = Rule(lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), "a mapping, e.g. {team: ml}")
