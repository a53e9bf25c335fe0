"""Aiming a run: several suites at once, a subset of their methods, datasets and corruptions, extra methods
as new rows, and at most N items per dataset.

The selection is applied to the suites' tables before they are expanded to cells, so a selected cell is
exactly the cell of the full run (same key, same record): ``-m``/``-d``/``-c`` keep the components a table
names (by registered name or by the table's label; ``-m NAME[k=v]`` keeps only the rows with those
parameters), ``--add-method 'M[k=v]'`` appends a row to every table with a corruption of a task the method
handles, and ``--limit N`` keeps the first N of each table's items per dataset, as the full run chose them.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.core.registry import CORRUPTIONS, METHODS
from bench.planning.suite import Component, Suite, load_suite

if TYPE_CHECKING:
    from bench.planning.cells import Cell


@dataclass
class Selection:
    methods: list[Component] = field(default_factory=list)  # empty: all
    datasets: list[str] = field(default_factory=list)
    corruptions: list[str] = field(default_factory=list)
    add_methods: list[Component] = field(default_factory=list)
    limit: int | None = None

    @classmethod
    def from_args(cls, args, suite: Suite | None = None) -> "Selection":
        """The selection the command line's -m/-d/-c/--add-method/--limit flags ask for (absent flags: all).
        A value that is, whole, a label or name in ``suite``'s tables is one name even if it has commas
        ("NMF, 2 clusters"); any other value is a comma list."""
        from bench.analysis.compare import (
            parse_method,  # the one parser of method specs (pandas and scipy: imported late)
        )

        limit = getattr(args, "limit", None)
        if limit is not None and limit < 1:
            raise ValueError(f"--limit {limit}: need at least 1 item")
        tables = suite.tables() if suite is not None else []

        def names(kind: str) -> set[str]:
            return {n for t in tables for c in getattr(t, kind) for n in (c.name, c.label)}

        methods = split_list(getattr(args, "method", None), names("methods"), "-m")
        return cls(methods=[parse_method(s) for s in methods],
                   datasets=split_list(getattr(args, "dataset", None), names("datasets"), "-d"),
                   corruptions=split_list(getattr(args, "corruption", None), names("corruptions"), "-c"),
                   add_methods=[parse_method(s) for s in split_list(getattr(args, "add_method", None),
                                                                    flag="--add-method")],
                   limit=limit)

    @property
    def narrows(self) -> bool:
        return bool(self.methods or self.datasets or self.corruptions or self.add_methods)


def split_list(values: list[str] | str | None, whole: set[str] = frozenset(), flag: str = "") -> list[str]:
    """Repeated flags and comma lists, as one list; commas inside ``[...]`` belong to a method's parameters,
    and a value found in ``whole`` is kept as it is. Unbalanced brackets are a ValueError naming ``flag``."""
    if values is None:
        return []
    out: list[str] = []
    for value in [values] if isinstance(values, str) else values:
        if value.strip() in whole:
            out.append(value.strip())
            continue
        depth, start = 0, 0
        for i, char in enumerate(value + ","):
            depth += {"[": 1, "]": -1}.get(char, 0)
            if depth < 0 or i == len(value) and depth:
                raise ValueError(f"{flag + ' ' if flag else ''}{value!r}: unbalanced brackets (expected "
                                 "NAME or NAME[key=value,...])")
            if char == "," and depth == 0:
                if value[start:i].strip():
                    out.append(value[start:i].strip())
                start = i + 1
    return out


def load_suites(spec: str) -> Suite:
    """``a`` or ``a,b``: one suite, or a suite of suites holding the tables of each (each table once)."""
    names = split_list(spec, flag="--suite")
    if len(names) == 1:
        return load_suite(names[0])
    if not names:
        raise ValueError("--suite: no suite named")
    suites = [load_suite(name) for name in names]
    return AimedSuite("+".join(s.name for s in suites), title=", ".join(s.title or s.name for s in suites),
                      chosen=[t for s in suites for t in s.tables()])


@dataclass
class AimedSuite(Suite):
    """A suite whose tables are given (selected, or gathered from several suites) rather than included."""

    chosen: list[Suite] = field(default_factory=list)

    def tables(self, _seen: set | None = None) -> list[Suite]:
        seen: set[str] = set()
        return [t for t in self.chosen if not (t.name in seen or seen.add(t.name))]


def aim(suite: Suite, selection: Selection) -> Suite:
    """The suite with each table cut down to the selection (tables left with nothing to run are dropped).

    A name that matches nothing in any table is an error that lists what the suite has."""
    if not selection.narrows:
        return suite
    tables = suite.tables()
    _check_known(tables, selection)
    chosen = []
    for table in tables:
        table = copy.copy(table)
        table.includes = []
        if selection.methods:
            table.methods = [m for m in table.methods if any(_method_matches(m, want) for want in selection.methods)]
        if selection.datasets:
            table.datasets = [d for d in table.datasets if _matches(d, selection.datasets)]
        if selection.corruptions:
            table.corruptions = [c for c in table.corruptions if _matches(c, selection.corruptions)]
        table.methods = table.methods + [m for m in selection.add_methods if _handles(m, table)]
        if table.methods and table.datasets and table.corruptions:
            chosen.append(table)
    if not chosen:
        raise ValueError(f"suite {suite.name}: no table has the selected methods, datasets and corruptions "
                         "together" + ("" if not selection.add_methods else
                                       f" (is {', '.join(m.name for m in selection.add_methods)} registered for "
                                       "the tasks of the suite's corruptions?)"))
    return AimedSuite(suite.name, title=suite.title, description=suite.description, paper=suite.paper,
                      settings=suite.settings, chosen=chosen)


def limit_items(cells: list[Cell], limit: int | None) -> list[Cell]:
    """The cells of the first ``limit`` items of each table and dataset, in the order the suite chose them."""
    if limit is None:
        return cells
    kept: dict[tuple, list] = {}
    out = []
    for cell in cells:
        items = kept.setdefault((cell.labels.get("suite"), cell.labels.get("dataset")), [])
        if cell.config["item"] not in items:
            if len(items) >= limit:
                continue
            items.append(cell.config["item"])
        out.append(cell)
    return out


def _matches(component: Component, wanted: list[str]) -> bool:
    return component.name in wanted or component.label in wanted


def _method_matches(component: Component, want: Component) -> bool:
    if want.params:  # NAME[k=v]: the rows of that method whose parameters include these values
        return component.name == want.name and all(component.params.get(k) == v for k, v in want.params.items())
    return want.name in (component.name, component.label)


def _handles(method: Component, table: Suite) -> bool:
    tasks = METHODS.get(method.name).meta.get("tasks", ())
    return any(CORRUPTIONS.get(c.name).meta.get("task") in tasks for c in table.corruptions)


def _check_known(tables: list[Suite], selection: Selection) -> None:
    def has(kind: str, components: list[Component], wanted: list[str], found) -> None:
        for want in wanted:
            if not any(found(c, want) for c in components):
                asked = want.label if isinstance(want, Component) else want
                names = sorted({f"{c.name}" + (f" ({c.label})" if c.label != c.name else "") for c in components})
                raise ValueError(f"no {kind} {asked!r} in the suite; it has: {'; '.join(names)}")

    has("method", [m for t in tables for m in t.methods], selection.methods,
        lambda c, want: _method_matches(c, want))
    has("dataset", [d for t in tables for d in t.datasets], selection.datasets, lambda c, w: _matches(c, [w]))
    has("corruption", [c for t in tables for c in t.corruptions], selection.corruptions,
        lambda c, w: _matches(c, [w]))
    for method in selection.add_methods:
        METHODS.get(method.name)  # an unknown name fails here, with the close matches


def add_selection_args(parser, *, methods: bool = True, add_method: bool = False) -> None:
    """The selection flags, for every command that takes a suite."""
    if methods:
        parser.add_argument("-m", "--method", action="append",
                            help="only these methods (name or label; NAME[k=v] for rows with those parameters); "
                                 "repeatable or comma-separated")
    parser.add_argument("-d", "--dataset", action="append", help="only these datasets (name or label)")
    parser.add_argument("-c", "--corruption", action="append", help="only these corruptions (name or label)")
    parser.add_argument("--limit", type=int, help="at most N items per dataset of each table")
    if add_method:
        parser.add_argument("--add-method", action="append",
                            help="add this method, 'NAME[k=v,...]', as a row of every table whose tasks it handles")
