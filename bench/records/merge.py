"""Results from many machines: gather results folders by cell key, and list where they disagree.

A cell's key hashes its whole configuration (code versions included), so two folders' records of the same
key are two runs of the same computation. Where their scores differ by more than the golden check's
tolerance (``tolerance``) that is a reproducibility disagreement: it is listed with each record's machine
(provenance host), torch version, precision and device and the spread, both records are kept, and nothing is
averaged. ``bench merge A B -o C`` writes the union to C (``cells/`` holds the first folder's record of a
disagreeing key, ``disagreements/<key>/`` every folder's); ``--results A,B`` reads the union in place
(``FolderUnion``; a command that writes puts its records in the first folder).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.records.store import ResultsStore, results_root

SCORE_FIELDS = ("scores", "input_scores", "oracle_scores")


def tolerance(metric: str, value: float) -> float:
    """How far two runs of one cell may differ on ``metric`` at ``value``: the golden check's tolerance
    (one call, so per-family tolerances can replace it)."""
    from bench.analysis.golden import ABS_TOL, REL_TOL

    return ABS_TOL + REL_TOL * abs(value)


def split_roots(spec) -> list[Path]:
    """``A,B`` (or a list) as folders; None: the default results folder."""
    if spec is None or isinstance(spec, (str, Path)) and "," not in str(spec):
        return [results_root(spec)]
    parts = spec if isinstance(spec, (list, tuple)) else str(spec).split(",")
    return [Path(p.strip()) if isinstance(p, str) else Path(p) for p in parts if str(p).strip()]


@dataclass
class Disagreement:
    key: str
    labels: dict
    field: str  # scores, input_scores or oracle_scores
    metric: str
    values: list[float]
    sources: list[dict]  # per record: folder, host, torch, precision, device

    @property
    def spread(self) -> float:
        return max(self.values) - min(self.values)


@dataclass
class Gathered:
    roots: list[Path]
    chosen: dict[str, dict] = field(default_factory=dict)  # key -> the record kept (an ok one first)
    copies: dict[str, list[tuple[Path, dict]]] = field(default_factory=dict)  # key -> every folder's record
    counts: dict[Path, int] = field(default_factory=dict)  # folder -> valid records it holds
    new: dict[Path, int] = field(default_factory=dict)  # folder -> cells no earlier folder gave
    disagreements: list[Disagreement] = field(default_factory=list)
    damaged: list = field(default_factory=list)


def gather(roots: list[Path]) -> Gathered:
    """Every valid record of every folder, by key; the disagreements between records of one key."""
    out = Gathered(list(roots))
    for root in roots:
        if not Path(root).is_dir():
            raise FileNotFoundError(f"{root}: no such results folder")
        records, damaged = ResultsStore(root).scan()
        out.damaged += damaged
        out.counts[root] = len(records)
        out.new[root] = 0
        for record in records:
            key = record["key"]
            out.copies.setdefault(key, []).append((root, record))
            if key not in out.chosen:
                out.new[root] += 1
                out.chosen[key] = record
            elif out.chosen[key]["status"] != "ok" and record["status"] == "ok":
                out.chosen[key] = record  # a finished run beats a failed one of the same cell
    for key, copies in out.copies.items():
        if len(copies) > 1:
            out.disagreements += disagreements_of(key, copies)
    return out


def disagreements_of(key: str, copies: list[tuple[Path, dict]]) -> list[Disagreement]:
    """Per score field and metric, the records of one key whose values differ past ``tolerance``."""
    ok = [(root, r) for root, r in copies if r["status"] == "ok"]
    out = []
    for name in SCORE_FIELDS:
        metrics = dict.fromkeys(m for _, r in ok for m in (r.get(name) or {}))
        for metric in metrics:
            scored = [(root, r, (r.get(name) or {}).get(metric)) for root, r in ok]
            scored = [(root, r, v) for root, r, v in scored if isinstance(v, (int, float)) and math.isfinite(v)]
            values = [v for _, _, v in scored]
            if len(values) > 1 and max(values) - min(values) > tolerance(metric, max(values, key=abs)):
                out.append(Disagreement(key, ok[0][1].get("labels", {}), name, metric, values,
                                        [machine(root, r) for root, r, _ in scored]))
    return out


def machine(root: Path, record: dict) -> dict:
    """Where a record was computed: its folder, host, torch version, precision and device."""
    provenance = record.get("provenance") or {}
    config = record.get("config") or {}
    ran = (record.get("precision") or config.get("precision") or {}).get("ran")  # the configuration that ran
    params = config.get("method", {}).get("params") or {}
    return {"folder": str(root), "host": provenance.get("host"), "torch": provenance.get("torch"),
            "precision": ran or params.get("precision"), "device": record.get("device")}


def write_merged(gathered: Gathered, output: Path) -> Path:
    """The union as a results folder: ``cells/`` one record per key, ``disagreements/<key>/`` every folder's
    record of a disagreeing key (numbered in the order of the folders), and ``merge.json`` listing them."""
    output = Path(output)
    if any(output.resolve() == Path(root).resolve() for root in gathered.roots):
        raise ValueError(f"-o {output}: write the merge to a new folder, not one of its sources")
    store = ResultsStore(output)
    for record in gathered.chosen.values():
        store.write(record)
    disagreeing = {d.key for d in gathered.disagreements}
    for key in disagreeing:
        folder = output / "disagreements" / key
        folder.mkdir(parents=True, exist_ok=True)
        for i, (root, record) in enumerate(gathered.copies[key], 1):
            (folder / f"{i}-{Path(root).name or 'results'}.json").write_text(json.dumps(record, allow_nan=False))
    summary = {"sources": {str(r): {"records": gathered.counts[r], "new_cells": gathered.new[r]}
                           for r in gathered.roots},
               "cells": len(gathered.chosen),
               "disagreements": [{"key": d.key, "labels": d.labels, "field": d.field, "metric": d.metric,
                                  "values": d.values, "spread": d.spread, "sources": d.sources}
                                 for d in gathered.disagreements]}
    (output / "merge.json").write_text(json.dumps(summary, indent=1, default=str))
    return output


def summary_lines(gathered: Gathered) -> list[str]:
    lines = [f"{root}: {gathered.counts[root]} records, {gathered.new[root]} cells no earlier folder gave"
             for root in gathered.roots]
    shared = sum(1 for copies in gathered.copies.values() if len(copies) > 1)
    lines.append(f"{len(gathered.chosen)} cells in all; {shared} held by several folders; "
                 f"{len({d.key for d in gathered.disagreements})} of them disagree")
    for d in gathered.disagreements:
        where = " / ".join(str(d.labels.get(f)) for f in ("suite", "method", "dataset", "corruption")
                           if d.labels.get(f))
        runs = "; ".join(f"{v:.6g} from {s['folder']} (host {s['host']}, torch {s['torch']}, precision "
                         f"{s['precision'] or 'default'}, {s['device']})" for v, s in zip(d.values, d.sources))
        lines.append(f"disagree {d.key} {where} {d.field}.{d.metric}: spread {d.spread:.3g} "
                     f"(tolerance {tolerance(d.metric, max(d.values)):.3g}): {runs}")
    return lines


class FolderUnion(ResultsStore):
    """Several results folders read as one (``--results A,B``): a key's record from the first folder that
    holds a finished one; writes go to the first folder. Disagreements are told once on stderr."""

    def __init__(self, roots: list[Path]):
        super().__init__(roots[0])
        self.roots = list(roots)
        self._gathered: Gathered | None = None

    @property
    def gathered(self) -> Gathered:
        if self._gathered is None:
            self._gathered = gather(self.roots)
            if self._gathered.disagreements:
                keys = len({d.key for d in self._gathered.disagreements})
                print(f"bench: {keys} cells disagree between {', '.join(map(str, self.roots))} (the first "
                      "folder's record is shown; `bench merge` lists them)", file=sys.stderr)
        return self._gathered

    def read(self, key: str) -> dict | None:
        return self.gathered.chosen.get(key)

    def scan(self):
        return list(self.gathered.chosen.values()), list(self.gathered.damaged)

    def write(self, record: dict) -> Path:
        self._gathered = None
        return super().write(record)


def existing_roots(spec) -> list[Path]:
    """The folders of ``--results`` (A,B,...), each of which must exist (FileNotFoundError naming the missing)."""
    roots = split_roots(spec)
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)}: no such results folder")
    return roots


def open_results(spec) -> ResultsStore:
    """``--results``: one folder, or ``A,B,...`` read as one."""
    roots = split_roots(spec)
    return ResultsStore(roots[0]) if len(roots) == 1 else FolderUnion(roots)

