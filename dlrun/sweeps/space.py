"""The search space: Hydra's override grammar -> Optuna distributions, and a trial's
parameters back to overrides.

    optim.lr=tag(log, interval(1e-5, 1e-1))   FloatDistribution(1e-5, 1e-1, log=True)
    model.width=int(interval(16, 256))         IntDistribution(16, 256)
    model.depth=range(1, 5)                    IntDistribution(1, 4)      (discrete)
    optim=adam,sgd   model.norm=choice(a, b)   CategoricalDistribution    (discrete)
    optim=glob(ada*)                           CategoricalDistribution    (discrete)

A space made only of discrete parameters can be enumerated (a grid); an interval cannot.

A knob searched next to a choice of its group's options is conditional: with
`optim=choice(sgd,momentum,adam) optim.momentum=interval(0.5,0.99)` a trial draws
optim.momentum only when its optimizer takes that knob (dlrun.base.options declarations),
so an adam trial neither gets nor records it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from dlrun.base.errors import BadInput

SUPPORTED_TAGS = ("log",)
PRIMITIVES = (str, int, float, bool, type(None))


class SearchSpaceError(BadInput):
    """A sweep override the sweeper cannot turn into a search space; str() names it."""


@dataclass(frozen=True)
class Param:
    key: str  # as typed, prefixes included: optim.lr, +model.fail_at_step
    text: str  # the value as typed: tag(log, interval(1e-5, 1e-1))
    distribution: BaseDistribution
    discrete: bool  # from a comma list, choice() or range(): a grid can enumerate it

    def representative(self):
        """One value of the parameter to check the sweep's config with before any trial: the
        first option, or the middle of an interval (geometric middle on a log scale)."""
        distribution = self.distribution
        if isinstance(distribution, CategoricalDistribution):
            return distribution.choices[0]
        low, high = distribution.low, distribution.high
        middle = math.sqrt(low * high) if distribution.log else (low + high) / 2
        if isinstance(distribution, IntDistribution):
            return low + round((middle - low) / distribution.step) * distribution.step
        return middle

    def grid_values(self) -> list:
        if isinstance(self.distribution, CategoricalDistribution):
            return list(self.distribution.choices)
        low, high, step = self.distribution.low, self.distribution.high, self.distribution.step
        return list(range(low, high + 1, step))


@dataclass(frozen=True)
class Condition:
    """A knob drawn only when the searched group `group` (its key as typed) takes one of `options`."""
    group: str
    options: tuple


@dataclass(frozen=True)
class SearchSpace:
    params: dict = field(default_factory=dict)  # {key: Param}, in the order given
    fixed: tuple = ()  # overrides every trial gets unchanged
    conditions: dict = field(default_factory=dict)  # {key: Condition}: knobs only some searched options take

    def distributions(self) -> dict:
        return {key: param.distribution for key, param in self.params.items()}

    def active(self, params: Mapping) -> dict:
        """`params` without the knobs that the point's options do not take."""
        return {key: value for key, value in params.items()
                if key not in self.conditions or params.get(self.conditions[key].group) in self.conditions[key].options}

    def suggest(self, trial) -> dict:
        """Draw a trial's point through `trial` (an Optuna Trial): the groups first, then each
        knob only where the drawn option takes it."""
        drawn = {}
        for key in sorted(self.params, key=lambda name: name in self.conditions):  # stable: the given order
            condition = self.conditions.get(key)
            if condition is None or drawn.get(condition.group) in condition.options:
                drawn[key] = _suggest(trial, key, self.params[key].distribution)
        return drawn

    def is_discrete(self) -> bool:
        return all(param.discrete for param in self.params.values())

    def grid(self) -> list:
        """Every combination, Hydra's order (the last parameter varies fastest)."""
        keys = list(self.params)
        values = [self.params[key].grid_values() for key in keys]
        points, seen = [], set()
        for combination in itertools.product(*values):  # an option without a knob: one point, not one per value
            point = self.active(dict(zip(keys, combination)))
            marker = tuple(sorted((key, repr(value)) for key, value in point.items()))
            if marker not in seen:
                seen.add(marker)
                points.append(point)
        return points

    def probe(self) -> dict:
        return self.active({key: param.representative() for key, param in self.params.items()})

    def overrides(self, params: Mapping) -> list:
        """A trial's overrides: the fixed ones, then its parameters."""
        return list(self.fixed) + [f"{key}={override_value(params[key])}" for key in self.params if key in params]


def _suggest(trial, name: str, distribution):
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step,
                                 log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


def _bare(key: str) -> str:
    return key.lstrip("+~")


def conditions_of(params: Mapping) -> dict:
    """{knob key: Condition} for each searched knob of a searched group (optim.momentum next to
    optim=choice(...)) that not every listed option takes; options dlrun does not declare (a
    user's _target_) are taken to take it."""
    from dlrun.config.declarations import GROUPS

    found = {}
    for key in params:
        for group_key, group_param in params.items():
            group = GROUPS.get(_bare(group_key))
            if group is None or not _bare(key).startswith(_bare(group_key) + "."):
                continue
            knob = _bare(key)[len(_bare(group_key)) + 1:]
            choices = getattr(group_param.distribution, "choices", ())
            if knob not in group.knobs or not choices:
                continue
            taking = tuple(c for c in choices if c not in group.options or knob in group.knobs_of(c))
            if len(taking) < len(choices):
                found[key] = Condition(group_key, taking)
    return found


def override_value(value) -> str:
    """A parameter value as Hydra's grammar reads it back (strings are kept encoded)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _choices(override) -> list:
    from hydra.core.override_parser.types import Transformer

    encoded = []
    for value, text in zip(override.sweep_iterator(transformer=Transformer.encode), override.sweep_string_iterator()):
        value = value if isinstance(value, PRIMITIVES) else text  # lists / dicts travel as their override text
        if value not in encoded:
            encoded.append(value)
    return encoded


def _range_distribution(override):
    sweep = override.value()
    values = _choices(override)
    integers = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if integers and not sweep.shuffle and sweep.step > 0 and len(values) > 1:
        return IntDistribution(values[0], values[-1], step=int(sweep.step))
    return CategoricalDistribution(values)


def _interval_distribution(override):
    sweep = override.value()
    unknown = set(sweep.tags) - set(SUPPORTED_TAGS)
    if unknown:
        raise SearchSpaceError(f"{override.input_line}: unknown tag {sorted(unknown)[0]!r}; "
                               f"supported: {', '.join(SUPPORTED_TAGS)} (tag(log, interval(1e-5, 1e-1)))")
    log = "log" in sweep.tags
    if log and sweep.start <= 0:
        raise SearchSpaceError(f"{override.input_line}: a log interval needs a start > 0")
    if sweep.start >= sweep.end:
        raise SearchSpaceError(f"{override.input_line}: interval start must be below its end")
    if isinstance(sweep.start, int) and isinstance(sweep.end, int):
        return IntDistribution(sweep.start, sweep.end, log=log)
    return FloatDistribution(float(sweep.start), float(sweep.end), log=log)


def param_from_override(override) -> Param:
    from hydra.core.override_parser.types import Glob

    text = override.input_line.split("=", 1)[1]
    if isinstance(override.value(), Glob):  # a group's options by name pattern, listed by Hydra's config loader
        if override.config_loader is None:
            raise SearchSpaceError(f"{override.input_line}: glob() needs the config tree; list the options instead")
        return Param(override.get_key_element(), text, CategoricalDistribution(list(override.sweep_string_iterator())),
                     True)
    if override.is_choice_sweep():
        return Param(override.get_key_element(), text, CategoricalDistribution(_choices(override)), True)
    if override.is_range_sweep():
        return Param(override.get_key_element(), text, _range_distribution(override), True)
    if override.is_interval_sweep():
        return Param(override.get_key_element(), text, _interval_distribution(override), False)
    raise SearchSpaceError(f"{override.input_line}: not supported by dlrun's sweeper; use a comma list, "
                           "choice(...), range(...), interval(...), int(interval(...)) or tag(log, interval(...))")


def parse_space(arguments: Sequence[str], configured: Mapping[str, str] = None, config_loader=None) -> SearchSpace:
    """The space from hydra.sweeper.params ({key: value}) and the command line's overrides
    (which win for a key given in both); non-sweep overrides become the fixed ones.
    `config_loader` (Hydra's) lets glob() list a group's options."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    lines = [f"{key}={value}" for key, value in (configured or {}).items()] + list(arguments)
    parser, parsed = OverridesParser.create(config_loader=config_loader), []
    for line in lines:  # one at a time, so that an error names its override
        try:
            parsed += parser.parse_overrides([line])
        except HydraException as error:
            raise SearchSpaceError(f"{line}: {str(error).strip().splitlines()[0]}") from None
    latest = {override.key_or_group: override for override in parsed}  # later wins
    params, fixed = {}, []
    for override in latest.values():
        if override.is_sweep_override():
            param = param_from_override(override)
            params[param.key] = param
        else:
            fixed.append(override.input_line)
    return SearchSpace(params=params, fixed=tuple(fixed), conditions=conditions_of(params))
