"""A user's own code named by `_target_: package.module.Name` (a model class, a data function).

Validation must not import it (a user's model module imports torch, about 1.4 s): the
module is located with importlib's finder and the callable's parameters are read from the
source with `ast`. Where the source does not say (a name imported from elsewhere, a class
inheriting its constructor), the knobs are checked when the target is called instead. Both
ways a problem is one line naming the key, the value and what the signature takes.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from dlrun.base.errors import ConfigError


@dataclass(frozen=True)
class Parameters:
    """What a callable accepts by keyword: every name, the ones without a default, **kwargs."""

    names: tuple
    required: tuple
    any_keyword: bool


def split_target(target: str) -> tuple:
    """("package.module", "Name") of "package.module.Name"."""
    module, _, name = str(target).rpartition(".")
    return module, name


def _module_source(module: str) -> tuple:
    """(origin file or None, problem or None) for a dotted module name, without importing it
    (importlib imports its parent packages, whose __init__ is usually small)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:  # a parent package is missing or broken
        return None, f"{error}"
    if spec is None:
        return None, f"no module {module!r} on the Python path"
    return spec.origin, None


def _from_arguments(arguments: ast.arguments, skip_first: bool) -> Parameters:
    """The keyword-passable parameters of a def (its first one, self, skipped for __init__)."""
    positional = list(arguments.posonlyargs) + list(arguments.args)
    has_default = [False] * (len(positional) - len(arguments.defaults)) + [True] * len(arguments.defaults)
    pairs = [(arg, default) for arg, default in list(zip(positional, has_default))[1 if skip_first else 0:]
             if not any(arg is only for only in arguments.posonlyargs)]
    pairs += [(arg, default is not None) for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults)]
    return Parameters(tuple(arg.arg for arg, _ in pairs), tuple(arg.arg for arg, default in pairs if not default),
                      arguments.kwarg is not None)


def parameters_from_source(path: str, name: str) -> Optional[Parameters]:
    """The parameters of top-level function or class `name` in the Python file, read with
    ast; None when the file does not define them there (imported, inherited, generated)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return _from_arguments(node.args, skip_first=False)
        if isinstance(node, ast.ClassDef) and node.name == name:
            init = next((item for item in node.body if isinstance(item, ast.FunctionDef) and item.name == "__init__"),
                        None)
            return _from_arguments(init.args, skip_first=True) if init else None
    return None


def _defined_names(path: str) -> Optional[set]:
    """Names a module file binds anywhere (defs, classes, assignments, imports), or None if
    it cannot be read: a target missing from all of them is reported without importing (a
    name bound only in a nested scope passes here and fails, in one line, when imported)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def locate(key: str, target) -> tuple:
    """(Parameters or None, problems) for `key._target_=target`, importing nothing of the
    target's own module."""
    module, name = split_target(target)
    if not isinstance(target, str) or not module or not name:
        return None, [f"{key}._target_={target!r}: expected package.module.Name (a class or function)"]
    origin, problem = _module_source(module)
    if problem:
        top = module.split(".")[0]
        return None, [f"{key}._target_={target}: {problem} (run dlrun in the folder holding {top}/ or {top}.py, "
                      "or install it)"]
    if origin is None or not origin.endswith(".py"):
        return None, []  # a namespace package or a compiled module: checked when called
    defined = _defined_names(origin)
    if defined is not None and name not in defined and "*" not in defined and "__getattr__" not in defined:
        return None, [f"{key}._target_={target}: {origin} defines no {name!r}"]
    return parameters_from_source(origin, name), []


def knob_problems(key: str, target: str, params: Parameters, knobs, needs=(), offers=()) -> list:
    """Knobs the callable does not take, parameters nothing gives, and the arguments dlrun
    always passes (`needs`, e.g. spec) that it does not take. `offers` (e.g. seed) are
    passed only to a callable that takes them."""
    given_by_dlrun = tuple(needs) + tuple(offers)
    takes = ", ".join(name for name in params.names if name not in given_by_dlrun) or "no knobs"
    problems = [f"{key}.{knob}: {target} takes no argument {knob!r}; it takes: {takes}"
                for knob in knobs if knob not in params.names and not params.any_keyword]
    problems += [f"{key}.{knob}: {knob!r} is passed by dlrun; rename the knob" for knob in knobs if knob in given_by_dlrun]
    missing = [name for name in params.required if name not in knobs and name not in given_by_dlrun]
    if missing:
        problems.append(f"{key}: {target} needs {', '.join(missing)} (add "
                        f"{' '.join(f'{key}.{name}=...' for name in missing)} or defaults in the signature)")
    problems += [f"{key}._target_={target}: dlrun calls it with {name}=...; add a {name!r} parameter"
                 for name in needs if name not in params.names and not params.any_keyword]
    return problems


def target_problems(key: str, target, knobs, needs=(), offers=()) -> list:
    """Every problem with a `_target_` and its knobs that can be seen without importing it."""
    params, problems = locate(key, target)
    if problems or params is None:
        return problems
    return knob_problems(key, target, params, knobs, needs, offers)


def load_target(key: str, target: str):
    """The imported class or function; ConfigError (one line) when it cannot be imported."""
    module, name = split_target(target)
    try:
        found = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as error:
        raise ConfigError([f"{key}._target_={target}: {error}"]) from None
    except AttributeError:
        raise ConfigError([f"{key}._target_={target}: module {module!r} defines no {name!r}"]) from None
    if not callable(found):
        raise ConfigError([f"{key}._target_={target}: not a class or function"])
    return found


def _signature_parameters(function) -> Optional[Parameters]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to read (some builtins)
        return None
    by_keyword = {name: parameter for name, parameter in signature.parameters.items()
                  if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)}
    return Parameters(tuple(by_keyword), tuple(name for name, parameter in by_keyword.items()
                                               if parameter.default is parameter.empty),
                      any(parameter.kind == parameter.VAR_KEYWORD for parameter in signature.parameters.values()))


def call_target(key: str, target: str, knobs: dict, needs: dict = None, offers: dict = None):
    """target(**knobs, **needs, **the offers it takes): the knobs are checked against the
    real signature first, so a mismatch is one line, not a TypeError from the user's code."""
    needs, offers = needs or {}, offers or {}
    function = load_target(key, target)
    params = _signature_parameters(function)
    if params is None:
        return function(**knobs, **needs)
    problems = knob_problems(key, target, params, knobs, needs, offers)
    if problems:
        raise ConfigError(problems)
    taken = {name: value for name, value in offers.items() if name in params.names or params.any_keyword}
    return function(**knobs, **needs, **taken)
