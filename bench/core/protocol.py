"""The protocols a method runs under: the fitting protocol (a suite's ``[protocol]``) and a trained method's
training protocol (a suite's ``[training]``), resolved by one order of layers (``layered``).

A method declares the fitting fields it uses and its own defaults in ``Method.protocol_defaults`` (a deep
prior: iterations, learning rate, trace interval...; a classical method: none); a trained method declares
its training keys in ``TrainedMethod.training_defaults`` (epochs, batch size, ... any JSON values, each
typed by its default). ``resolve`` and ``resolve_training`` decide, once, when cells and training jobs are
expanded, what a method runs under:

1. the method's defaults,
2. the suite's ``[protocol]`` / ``[training]``, then the method entry's own ``protocol = {...}`` /
   ``training = {...}``,
3. the profile's scaling: of the fields counted in iterations (``iterations``, ``trace_every``,
   ``lr_step``), of a training's ``epochs``,
4. the suite's ``[profiles.<profile>.protocol]`` / ``[profiles.<profile>.training]``, taken as written.

Only the names the method declares are taken from the suite, so a suite's learning rate is not part of a
classical method's cells. The result, a ``Protocol`` or a ``TrainingProtocol``, holds exactly those names,
typed, and refuses to read any other: it is what the key hashes, what the record or ``job.json`` shows and
what the method's context hands it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from bench.core.keys import canonical_json
from bench.core.suggest import reject_unknown


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


class DeclaredValues(Mapping[str, Any]):
    """The values one method runs under, exactly the names it declares: typed when resolved, immutable,
    hashable, read as a mapping (``p["lr"]``) or by attribute (``p.lr``). Reading a name the method does not
    declare raises ``UndeclaredField`` (``get`` too) where ``_refusal`` says so: a value the key does not
    hash must not steer a method."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None):
        object.__setattr__(self, "_values", dict(values or {}))

    def _refusal(self, name: str) -> UndeclaredField | None:
        """The error for reading an undeclared ``name``; None: a plain KeyError (``get``: the default)."""
        raise NotImplementedError

    def __getitem__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        raise self._refusal(name) or KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        if name in self._values:
            return self._values[name]
        refusal = self._refusal(name)
        if refusal is not None:
            raise refusal
        return default

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
        raise AttributeError(f"a {type(self).__name__} is immutable")

    def __hash__(self) -> int:
        return hash(canonical_json(self._values))

    def __reduce__(self):
        return type(self), (self._values,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"

    def to_dict(self) -> dict[str, Any]:
        """The values as a plain dict (what a cell's or a training job's configuration holds)."""
        return dict(self._values)


class Protocol(DeclaredValues):
    """The fitting protocol one method runs under: exactly the fields it uses (``FIELDS``), typed.

    Reading a protocol field the method does not use raises ``UndeclaredField``; a name that is no protocol
    field is a plain missing key.
    """

    __slots__ = ()

    def __init__(self, values: Mapping[str, Any] | None = None, where: str = "protocol"):
        super().__init__(check_values(values or {}, where))

    def _refusal(self, name: str) -> UndeclaredField | None:
        if name not in FIELDS:
            return None
        return UndeclaredField(f"the protocol field {name!r} is not among the method's fields "
                               f"({', '.join(self._values) or 'none'}): declare it, with its default, in the "
                               f"method's protocol_defaults")

    def describe(self) -> str:
        """``iterations=20, lr=0.001, ...``, or ``uses no protocol field``."""
        return ", ".join(f"{k}={_show(v)}" for k, v in self._values.items()) or "uses no protocol field"


class TrainingProtocol(DeclaredValues):
    """The training protocol a trained method trains under: exactly the keys its ``training_defaults``
    declare (and ``epochs``, which every training has), each typed like its default when resolved
    (``resolve_training``). Reading any other key raises ``UndeclaredField``."""

    __slots__ = ()

    def _refusal(self, name: str) -> UndeclaredField:
        return UndeclaredField(f"the training key {name!r} is not declared by the method (its training keys: "
                               f"{', '.join(self._values) or 'none'}): declare it, with its default, in the "
                               f"method's training_defaults")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


# -- resolution: one order of layers for both protocols --------------------------------------------------
def layered(defaults: Mapping[str, Any], suite_wide: Mapping[str, Any], own: Mapping[str, Any], *,
            check: Callable[[str, Any], Any], scale: Callable[[dict], dict] | None = None,
            profile: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The precedence of both protocols, lowest first: the method's ``defaults``, the suite's values, the
    method entry's ``own`` values, the profile's ``scale`` (of what the layers so far give), then the
    profile's values as written. A layer gives only the names the method declares (its defaults' names);
    ``check(name, value)`` types each value it gives."""
    values = dict(defaults)
    for layer in (suite_wide, own):
        values.update((name, check(name, value)) for name, value in layer.items() if name in values)
    if scale is not None:
        values = scale(values)
    values.update((name, check(name, value)) for name, value in (profile or {}).items() if name in values)
    return values


def resolve(defaults: Mapping[str, Any], given: Mapping[str, Any] | None = None, *,
            scale_iterations: Callable[[int], int] | None = None, overrides: Mapping[str, Any] | None = None,
            where: str = "protocol", own: Mapping[str, Any] | None = None) -> Protocol:
    """The fitting protocol a method runs under (``layered``): its ``defaults`` (which also say which fields it
    uses), the suite's ``given`` values, the method entry's ``own``, the profile's ``scale_iterations``
    applied to the fields counted in iterations, then the profile's ``overrides`` as written. Every value
    given is a protocol field (``FIELDS``), used by the method or not; ``where`` names the source in errors."""
    values = check_values(defaults, f"{where} (the method's defaults)")
    given, own = check_values(given or {}, where), check_values(own or {}, where)
    overrides = check_values(overrides or {}, where)

    def scale(values: dict) -> dict:
        if scale_iterations is None or "iterations" not in values:
            return values
        full = values["iterations"]
        scaled = scale_iterations(full)
        for name, field in FIELDS.items():
            if field.in_iterations and name != "iterations" and values.get(name):
                values[name] = max(1, round(values[name] * scaled / full))
        values["iterations"] = scaled
        return values

    return Protocol(layered(values, given, own, check=lambda name, value: value, scale=scale, profile=overrides),
                    where)


TRAINING_BASE = {"epochs": 1}  # what every training protocol has: the harness runs its epochs

# Training keys the harness acts on, not the method: a method that supports one declares it, with its
# default, in its training_defaults. At the harness's value below a key is left out of the resolved
# protocol, so neither declaring it nor naming that value changes a training job's key.
STOP_WHEN_LOSS_STOPS_FALLING = "stop_when_loss_stops_falling"  # end after an epoch whose mean loss did not fall
HARNESS_TRAINING = {STOP_WHEN_LOSS_STOPS_FALLING: False}


def harness_training_value(protocol: Mapping[str, Any], name: str) -> Any:
    """The value of the harness's training key ``name`` in a resolved ``protocol`` (its default where the
    protocol leaves it out)."""
    return protocol[name] if name in protocol else HARNESS_TRAINING[name]


def resolve_training(defaults: Mapping[str, Any], *, suite_wide: Mapping[str, Any], own: Mapping[str, Any],
                     where: str, epochs_scale: Callable[[int], int] | None = None,
                     overrides: Mapping[str, Any] | None = None) -> TrainingProtocol:
    """The training protocol a trained method trains under (``layered``): its ``defaults`` (its
    ``training_defaults``, over ``TRAINING_BASE``), the suite's ``[training]``, the method entry's own
    ``training = {...}``, the profile's scaling of ``epochs``, then the profile's ``training`` overrides as
    written; each value typed like its default. As with the fitting protocol, suite-wide keys a method does
    not declare are not its concern; an undeclared key in the method's own entry is an error. ``epochs``
    (``TRAINING_BASE``) reaches from the suite or a profile only a method that declares it: a one-shot fit
    (the NMF dictionary) keeps its one epoch whatever the suite's networks train for. A harness key
    (``HARNESS_TRAINING``) at the harness's value is left out (``harness_training_value`` reads it)."""
    declared = set(defaults)
    suite_wide = {name: value for name, value in suite_wide.items() if name in declared}
    overrides = {name: value for name, value in (overrides or {}).items() if name in declared}
    defaults = {**TRAINING_BASE, **defaults}
    reject_unknown(own, defaults, where, "training key", f"(this method's training keys: {', '.join(defaults)})")

    def scale(values: dict) -> dict:
        if epochs_scale is not None:
            values["epochs"] = epochs_scale(values["epochs"])
        return values

    values = layered(defaults, suite_wide, own, scale=scale, profile=overrides,
                     check=lambda name, value: _like(name, value, defaults[name], where))
    return TrainingProtocol({name: value for name, value in values.items()
                             if name not in HARNESS_TRAINING or value != HARNESS_TRAINING[name]})


def _like(name: str, value, default, where: str):
    """``value`` typed like the training key's ``default`` (an int is a float where the default is one)."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"{where}: training key {name!r} must be like {default!r}, not {value!r}")
    return value


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
