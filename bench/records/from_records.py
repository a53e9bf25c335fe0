"""A suite's cells as a results folder holds them, found without the corpora: match records by configuration.

A record belongs to a table of the suite when its method (name, registered version, the declared
parameters), dataset (name, or the corpus it stood in for; sample rate), corruption (name, the declared
parameters) and seed are what the table declares. Matching by configuration rather than by the record's
labels matters because a cell shared by two suites is computed once, and its record's labels name the suite
that ran it first; here it takes the labels of the table asking. Items cannot be checked without the corpus
(they are drawn from its item list), so every item the folder holds is shown.
"""
from __future__ import annotations

from typing import Iterable

from bench.core.registry import CORRUPTIONS, METHODS
from bench.planning.cells import Cell, method_runs_on
from bench.planning.suite import Component, Suite


def cells_from_records(suite: Suite, records: Iterable[dict], profile: str | None = None) -> list[Cell]:
    """The cells of ``suite``'s tables that ``records`` hold, labelled by the table; each key once.

    ``profile`` keeps only records made under that profile (the record's ``labels.profile``).
    """
    records = [r for r in records if profile is None or _profile(r) == profile]
    cells: dict[str, Cell] = {}
    for table in suite.tables():
        for record in records:
            if record["key"] in cells:
                continue
            labels = _table_labels(table, record)
            if labels is not None:
                cells[record["key"]] = Cell.from_dict({**record, "labels": labels})
    return list(cells.values())


def held_profile(suite: Suite, cells: list[Cell], where) -> str:
    """The profile of a suite's records in a folder (``where``, for the message): "paper" when there are
    none; an error naming them when there are several, since one table must not mix them."""
    profiles = sorted({c.labels["profile"] for c in cells})
    if len(profiles) > 1:
        raise ValueError(f"{where} holds records of profiles {', '.join(profiles)} for suite {suite.name}: "
                         "choose one with --profile")
    return profiles[0] if profiles else "paper"


def _profile(record: dict) -> str:
    return record["labels"].get("profile") or "paper"


def _table_labels(table: Suite, record: dict) -> dict | None:
    config, profile = record["config"], _profile(record)
    settings = table.resolved(profile)
    if config["seed"] not in [int(s) for s in settings["seeds"]]:
        return None
    if config["dataset"].get("sample_rate") not in (None, int(settings["sample_rate"])):
        return None
    method = _match(table.methods, config["method"], versioned=METHODS)
    dataset = next((d for d in table.datasets if _same_dataset(d, config["dataset"])), None)
    corruption = _match(table.corruptions, config["corruption"], versioned=CORRUPTIONS)
    if method is None or dataset is None or corruption is None or not method_runs_on(method, dataset, corruption):
        return None
    return {**record["labels"], "suite": table.name, "method": method.label, "dataset": dataset.label,
            "corruption": corruption.label, "profile": profile}


def _match(declared: list[Component], config: dict, versioned) -> Component | None:
    """The declared entry this configuration is: same name and current version, same declared parameters
    (an exact match first; a configuration may add resolved defaults to what the suite declares)."""
    if config.get("name") not in versioned or versioned.get(config["name"]).version != config.get("version"):
        return None
    params = config.get("params") or {}
    named = [c for c in declared if c.name == config["name"]]
    exact = [c for c in named if c.params == params]
    subset = [c for c in named if all(k in params and params[k] == v for k, v in c.params.items())]
    return (exact or subset or [None])[0]


def _same_dataset(declared: Component, config: dict) -> bool:
    if config.get("standin_for") == declared.name:
        return True
    return config.get("name") == declared.name and (config.get("params") or {}) == (declared.params or {})

