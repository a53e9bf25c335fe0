"""The fitting protocol: the fields a suite's ``[protocol]`` may set, and the values one method runs under.

A method declares the fields it uses and its own defaults in ``Method.protocol_defaults`` (a deep prior:
iterations, learning rate, trace interval...; a classical method: none). ``resolve`` decides, once, when
cells are expanded, what a method's cells run under:

1. the method's defaults,
2. the suite's ``[protocol]``, then the method entry's own ``protocol = {...}``,
3. the profile's scaling of the fields counted in iterations (``iterations``, ``trace_every``, ``lr_step``),
4. the suite's ``[profiles.<profile>.protocol]``, taken as written.

Only the fields the method uses are taken from the suite, so a suite's learning rate is not part of a
classical method's cells. The result, a ``Protocol``, holds exactly those fields: it is what the cell key
hashes, what the record shows and what the method's ``RunContext`` hands it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from bench.suggest import reject_unknown


@dataclass(frozen=True)
class Field:
    """One protocol field: its type and the values it admits."""

    name: str
    kind: type  # int, float or bool
    doc: str
    minimum: float | None = None  # inclusive
    positive: bool = False
    optional: bool = False  # None is a value (lr_step: no step decay); a suite leaves it out to get it
    in_iterations: bool = False  # counted in iterations: a profile scales it with the iterations

    def check(self, value: Any) -> Any:
        """The value as this field's type, or ValueError saying what is wrong (without where)."""
        if value is None and self.optional:
            return None
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise ValueError(f"{self.name} must be {_KIND_NAMES[self.kind]}, not {value!r}")
        value = self.kind(value)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name} must be at least {self.minimum:g}, not {value!r}")
        if self.positive and value <= 0:
            raise ValueError(f"{self.name} must be positive, not {value!r}")
        return value


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false"}

FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("iterations", int, "optimiser steps of a fitted method", minimum=1, in_iterations=True),
    Field("lr", float, "the optimiser's learning rate", positive=True),
    Field("lr_step", int, "multiply the learning rate by lr_gamma every lr_step iterations (left out: constant)",
          minimum=1, optional=True, in_iterations=True),
    Field("lr_gamma", float, "the factor of the step decay", positive=True),
    Field("trace_every", int, "the harness scores every trace_every-th iterate against the clean signal "
                              "(0: no trace)", minimum=0, in_iterations=True),
    Field("trace_all_metrics", bool, "score every metric on traced iterates, not only the trace-safe ones"),
)}


class UndeclaredField(KeyError):
    """A method read a protocol field it does not declare (so the cell key would not hash it)."""

    def __str__(self) -> str:
        return str(self.args[0])


def check_values(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``values`` typed, each key a protocol field; else ValueError naming ``where`` and the close matches."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{where}: the protocol must be a table of key = value, not {values!r}")
    out = {}
    for name, value in values.items():
        reject_unknown([name], FIELDS, where, "protocol key", f"(the protocol's keys: {', '.join(FIELDS)})")
        field = FIELDS[name]
        try:
            out[name] = field.check(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return out


class Protocol(Mapping[str, Any]):
    """The protocol one method runs under: exactly the fields it uses, typed; immutable and hashable.

    Read it as a mapping (``protocol["lr"]``) or by attribute (``protocol.lr``). Reading a protocol field
    the method does not use raises ``UndeclaredField``, with ``get`` too: a value the key does not hash must
    not steer a fit.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None, where: str = "protocol"):
        object.__setattr__(self, "_values", check_values(values or {}, where))

    def __getitem__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name in FIELDS:
            raise UndeclaredField(f"the protocol field {name!r} is not among the method's fields "
                                  f"({', '.join(self._values) or 'none'}): declare it, with its default, in the "
                                  f"method's protocol_defaults")
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self._values or name in FIELDS else default

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(str(exc)) from None

    def __setattr__(self, name, value):
        raise AttributeError("a Protocol is immutable")

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __reduce__(self):
        return Protocol, (self._values,)

    def __repr__(self) -> str:
        return f"Protocol({self._values!r})"

    def to_dict(self) -> dict[str, Any]:
        """The values as a plain dict (what a cell's configuration holds)."""
        return dict(self._values)

    def describe(self) -> str:
        """``iterations=20, lr=0.001, ...``, or ``uses no protocol field``."""
        return ", ".join(f"{k}={_show(v)}" for k, v in self._values.items()) or "uses no protocol field"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def resolve(defaults: Mapping[str, Any], given: Mapping[str, Any] | None = None, *,
            scale_iterations: Callable[[int], int] | None = None, overrides: Mapping[str, Any] | None = None,
            where: str = "protocol") -> Protocol:
    """What a method runs under: its ``defaults`` (which also say which fields it uses), the suite's
    ``given`` values for those fields, the profile's ``scale_iterations`` applied to the fields counted in
    iterations, then the profile's ``overrides`` as written. ``where`` names the source in errors."""
    values = check_values(defaults, f"{where} (the method's defaults)")
    given, overrides = check_values(given or {}, where), check_values(overrides or {}, where)
    values.update((k, v) for k, v in given.items() if k in values)
    if scale_iterations is not None and "iterations" in values:
        full = values["iterations"]
        scaled = scale_iterations(full)
        for name, field in FIELDS.items():
            if field.in_iterations and name != "iterations" and values.get(name):
                values[name] = max(1, round(values[name] * scaled / full))
        values["iterations"] = scaled
    values.update((k, v) for k, v in overrides.items() if k in values)
    return Protocol(values, where)


def summary_lines(cells) -> list[str]:
    """One line per method row of a run: the protocol its cells run under, as resolved."""
    rows: dict[tuple, set[str]] = {}
    for cell in cells:
        method = cell.config["method"]
        name = cell.labels.get("method") or method["name"]
        title = name if name == method["name"] else f"{name} ({method['name']})"
        rows.setdefault((title, Protocol(cell.config["protocol"]).describe()), set()).add(cell.labels.get("suite", ""))
    several = {title for title, _ in rows if sum(t == title for t, _ in rows) > 1}
    lines = []
    for (title, text), tables in rows.items():
        where = f" [{', '.join(sorted(tables))}]" if title in several else ""
        lines.append(f"  {title}{where}: {text}")
    return lines


def fitting_iterations(cells) -> int:
    """The fitting iterations the cells run, in all (methods that iterate)."""
    return sum(int(cell.config["protocol"].get("iterations", 0)) for cell in cells)
