"""The papers' claims as a suite declares them (``[[claims]]``): what each claims, about which rows and
metric, and where the paper says it. Evaluating them on results is ``bench.analysis.paper_claims``."""
from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("ordering", "effect", "gap")
INPUT = "input"
_KEYS = {"kind", "statement", "a", "b", "metric", "source", "margin", "datasets", "corruptions", "rules",
         "paper_metric"}


@dataclass
class Claim:
    kind: str
    statement: str
    a: list[str]
    b: list[str]
    metric: str
    source: str
    margin: float = 0.0
    datasets: list[str] = field(default_factory=list)  # empty: every dataset of the table
    corruptions: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # empty: every rule the table can show
    paper_metric: str | None = None

    @property
    def threshold(self) -> float:
        return -self.margin


def parse_claim(entry: dict, where: str, methods: list[str]) -> Claim:
    """A ``[[claims]]`` entry, checked against the table's method labels; ValueError naming ``where``."""
    from bench.core.parameters import did_you_mean

    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a claim is a table of key = value")
    for key in entry:
        if key not in _KEYS:
            raise ValueError(f"{where}: unknown key {key!r}.{did_you_mean(key, _KEYS)}")
    for key in ("kind", "statement", "a", "b", "metric", "source"):
        if key not in entry:
            raise ValueError(f"{where}: a claim needs {key!r}")
    if entry["kind"] not in KINDS:
        raise ValueError(f"{where}: kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
    a, b = _labels(entry["a"]), _labels(entry["b"])
    if (entry["kind"] == "effect") != (b == [INPUT]):
        raise ValueError(f"{where}: an effect claim, and only it, has b = \"input\" (the corrupted input)")
    if b != [INPUT] and len(a) != len(b):
        raise ValueError(f"{where}: a and b pair position by position: {len(a)} and {len(b)} labels")
    for label in a + ([] if b == [INPUT] else b):
        if label not in methods:
            raise ValueError(f"{where}: no method labelled {label!r} in the table.{did_you_mean(label, methods)}")
    margin = float(entry.get("margin", 0.0))
    if margin < 0 or (margin > 0) != (entry["kind"] == "gap"):
        raise ValueError(f"{where}: a gap claim, and only it, has a positive margin")
    from bench.analysis.rules import check_form

    return Claim(entry["kind"], entry["statement"], a, b, entry["metric"], entry["source"], margin,
                 _labels(entry.get("datasets", [])), _labels(entry.get("corruptions", [])),
                 [check_form(r, f"{where}: rules") for r in _labels(entry.get("rules", []))],
                 entry.get("paper_metric"))


def _labels(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# -- evaluation -----------------------------------------------------------------------------------------
