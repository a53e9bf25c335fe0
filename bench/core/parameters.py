"""The parameters a method, dataset or corruption takes, read from its constructor, and a check of a suite's.

A component's parameters are the keyword parameters of its constructor, collected up its class hierarchy
for as long as a constructor passes ``**params`` on to its parent, down to the family's base class
(``Method``, ``Dataset``, ``Corruption``), whose ``**params`` only records them. A value is checked against
its parameter's annotation where that is made of plain types (int, float, str, bool, None, list, tuple,
dict); anything else is left to the constructor. A class may declare the range of a numeric parameter in
``parameter_ranges = {"std": Range(low=0)}``, so that a value out of it is a suite error before any cell
runs rather than a failed (or a memory-eating) cell.
"""
from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from bench.core.suggest import did_you_mean, reject_unknown  # noqa: F401 - did_you_mean: old import path

_PLAIN = (bool, int, float, str, list, tuple, dict, type(None))
_HARNESS_ARGUMENTS = {"self", "root"}  # given by the harness, never by a suite


@dataclass(frozen=True)
class Range:
    """The values a numeric parameter may take: ``low <= value <= high`` (``low < value`` if ``above``)."""
    low: float | None = None
    high: float | None = None
    above: bool = False  # low itself excluded
    why: str = ""  # the reason for the bound, said in the error

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # a non-number is the type check's business
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {self.low:g} and {self.high:g}"
        return f"{'greater than' if self.above else 'at least'} {self.low:g}" if self.low is not None \
            else f"at most {self.high:g}"


@dataclass(frozen=True)
class Parameter:
    name: str
    types: tuple[type, ...] | None  # None: not checked here
    required: bool

    def accepts(self, value: Any) -> bool:
        if self.types is None:
            return True
        if isinstance(value, bool):
            return bool in self.types
        if isinstance(value, int) and float in self.types:
            return True
        if isinstance(value, (list, tuple)) and (list in self.types or tuple in self.types):
            return True  # TOML has arrays only
        return isinstance(value, tuple(t for t in self.types if t is not bool))

    def describe_types(self) -> str:
        names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
                 tuple: "a list", dict: "a table", type(None): "none"}
        return " or ".join(dict.fromkeys(names[t] for t in self.types or ()))


def parameters_of(cls: type, base: type) -> dict[str, Parameter] | None:
    """The parameters ``cls`` takes (see the module docstring); None if it takes any keyword."""
    found: dict[str, Parameter] = {}
    for klass in cls.__mro__:
        if klass is base or klass is object:
            return found
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        hints = _hints(init)
        passes_on = False
        for p in inspect.signature(init).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                passes_on = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in _HARNESS_ARGUMENTS:
                found.setdefault(p.name, Parameter(p.name, _plain_types(hints.get(p.name)),
                                                   p.default is inspect.Parameter.empty))
        if not passes_on:
            return found
    return None


def check_parameters(cls: type, base: type, params: Mapping[str, Any], where: str) -> None:
    """ValueError naming ``where`` for an unknown, missing or mistyped parameter (with the close matches)."""
    if not isinstance(params, Mapping):
        raise ValueError(f"{where}: params must be a table of name = value, not {params!r}")
    known = parameters_of(cls, base)
    if known is None:
        return
    reject_unknown(params, known, where, "parameter", f"(it takes {', '.join(known) or 'no parameters'})")
    for name, value in params.items():
        if not known[name].accepts(value):
            raise ValueError(f"{where}: parameter {name!r} must be {known[name].describe_types()}, "
                             f"not {value!r}")
        bound = getattr(cls, "parameter_ranges", {}).get(name)
        if bound is not None and not bound.holds(value):
            raise ValueError(f"{where}: parameter {name!r} must be {bound.describe()}, not {value!r}"
                             f"{' (' + bound.why + ')' if bound.why else ''}")
    missing = [p.name for p in known.values() if p.required and p.name not in params]
    if missing:
        raise ValueError(f"{where}: missing parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def _hints(function) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - an annotation that does not evaluate here: leave it to the constructor
        return {}


def _plain_types(hint) -> tuple[type, ...] | None:
    if hint is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_plain_types(arg) for arg in typing.get_args(hint)]
        return None if any(p is None for p in parts) else tuple(t for p in parts for t in p)
    hint = origin or hint
    return (hint,) if hint in _PLAIN else None
