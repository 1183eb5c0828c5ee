"""Command-line overrides read with Hydra's grammar, one at a time, so that a syntax error
is one line naming the override, what is wrong in words and the fix, instead of the
parser's `LexerNoViableAltException` or `mismatched input '('`.

Importing this module imports neither torch nor Hydra (Hydra is imported when parsing).
"""

from __future__ import annotations

import re

from dlrun.base.errors import ConfigError, shown

# the longest integer Python converts from text by default (sys.get_int_max_str_digits)
MAX_DIGITS = 4300


def hydra_quoted(text: str) -> str:
    """A value in Hydra's override grammar, whatever characters it holds (a path, a URL)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def shell_quoted(key: str, value: str) -> str:
    """`key=value` with the value quoted for Hydra, the whole quoted for a POSIX shell."""
    inner = '"' if '"' not in value else "'"
    argument = f"{key}={inner}{value}{inner}"
    if "'" not in argument:
        return f"'{argument}'"
    return '"' + re.sub(r'(["$`\\])', r"\\\1", argument) + '"'


def _char_problem(line: str, key: str, value: str, index: int) -> str:
    """The message for a character the grammar refused at `index` of the line."""
    char = line[index] if index < len(line) else ""
    if index < len(key) + 1:
        return (f"{shown(line)}: {key!r} is not a valid key ({char!r} at position {index + 1}); keys are names "
                "of letters, digits, _ and - joined by dots, e.g. optim.lr")
    if sum(map(value.count, "([{")) > sum(map(value.count, ")]}")):
        return (f"{shown(line)}: an unfinished list, dict, function call or ${{...}}; close its brackets, or quote "
                f"the value to pass it as text: {shell_quoted(key, value)}")
    hint = " (dlrun does not expand '~': write $HOME/... and let the shell expand it)" if char == "~" else ""
    return (f"{shown(line)}: the character {char!r} cannot appear unquoted in a value{hint}; quote the value: "
            f"{shell_quoted(key, value)}")


def _grammar_problem(line: str, error) -> str:
    """One line for a HydraException from the override grammar (its cause holds the position)."""
    from antlr4.error.Errors import LexerNoViableAltException, RecognitionException

    key, equals, value = line.partition("=")
    key = key.lstrip("~+")
    if not equals:
        return f"{shown(line)}: expected key=value (e.g. optim.lr=0.1), ~key to delete a key, or +key=value to add one"
    cause = error.__cause__
    if isinstance(cause, LexerNoViableAltException):
        return _char_problem(line, key, value, cause.startIndex)
    token = getattr(cause, "offendingToken", None)
    if isinstance(cause, RecognitionException) and token is not None and token.start >= 0:
        if token.text == "<EOF>":
            return _char_problem(line, key, value, len(line) - 1 if line.endswith(("(", ",")) else len(line))
        return _char_problem(line, key, value, token.start)
    text = str(error).strip().splitlines()[0]
    if "empty choice is not legal" in text:
        return f"{shown(line)}: choice() needs at least one option, e.g. {key}=choice(a,b)"
    return f"{shown(line)}: {text}"


def sweep_value_problem(line: str, override):
    """A sweep whose values Python or Optuna would refuse in their own words: range() with a
    step of 0 or no values, a choice or list of no options. None when it holds values."""
    from hydra.core.override_parser.types import ChoiceSweep, RangeSweep

    if not override.is_sweep_override():
        return None
    value = override.value()
    if isinstance(value, RangeSweep):
        if value.step == 0:
            return f"{shown(line)}: range()'s step must not be 0, e.g. range(1,5,1)"
        step = value.step if value.step is not None else 1
        if (step > 0 and value.start >= value.stop) or (step < 0 and value.start <= value.stop):
            return f"{shown(line)}: range({value.start},{value.stop},{step}) holds no value (start must come " \
                   "before stop in the step's direction)"
    if isinstance(value, ChoiceSweep) and not value.list:
        return f"{shown(line)}: choice() needs at least one option, e.g. choice(a,b)"
    return None


def _number_problem(line: str, error: ValueError) -> str:
    key, _, value = line.partition("=")
    digits = sum(c.isdigit() for c in value)
    if digits > MAX_DIGITS:
        return f"{key.lstrip('~+')}={shown(value)}: a number of {digits} digits is too long (at most {MAX_DIGITS})"
    return f"{shown(line)}: {error}"


def parse_one(parser, line: str):
    """The parsed Override, or ConfigError naming the override and what is wrong."""
    from hydra.errors import HydraException

    try:
        return parser.parse_rule(line, "override")
    except HydraException as error:
        problem = _grammar_problem(line, error)
    except ValueError as error:  # Hydra's int() of a number longer than Python converts
        problem = _number_problem(line, error)
    raise ConfigError([problem])


def parse_overrides(lines, multirun: bool = False, config_loader=None) -> list:
    """Every override parsed; ConfigError lists each one that is malformed. Without -m, a
    sweep (a comma list, interval(), choice(), ...) is refused, with the ways out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, parsed, problems = OverridesParser.create(config_loader=config_loader), [], []
    for line in lines:
        try:
            override = parse_one(parser, line)
        except ConfigError as error:
            problems += error.problems
            continue
        problem = sweep_value_problem(line, override)
        if problem:
            problems.append(problem)
            continue
        if override.is_sweep_override() and not multirun:
            problems.append(f"{shown(line)}: a sweep (several values) needs -m (dlrun -m {shown(line)}); for one "
                            f"value that is a list write {override.get_key_element()}=[a,b], for text quote it")
        parsed.append(override)
    if problems:
        raise ConfigError(problems)
    return parsed
