"""The results store: one JSON record per cell, written atomically; a long pandas table derived from them.

Records live at ``<results>/cells/<key[:2]>/<key>.json``. A record is written to a temporary file in the
same folder and renamed over its final name, so readers never see half a record and a crash (even
``kill -9``) leaves either the whole record or none. Writing the same key twice replaces, never duplicates.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from bench.core.files import write_text
from bench.records import record as schema
from bench.records.record import STATUSES, RecordError  # noqa: F401 - STATUSES re-exported for older callers


@dataclass
class Damaged:
    """A file under ``cells/`` that is not a valid record: its path and why."""

    path: Path
    reason: str


def results_root(explicit: str | os.PathLike | None = None) -> Path:
    """``--results``, else ``$BENCH_RESULTS``, else ``results/`` in the working directory."""
    return Path(explicit or os.environ.get("BENCH_RESULTS", "results"))


def check_writable(root: Path) -> None:
    """Fail before any cell runs if the results folder cannot take records (raises OSError naming it)."""
    import errno
    import tempfile

    if root.exists() and not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "--results is not a folder", str(root))
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise OSError(exc.errno, f"results folder not writable ({exc.strerror})", str(root)) from None


class ResultsStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = results_root(root)
        self.cells_dir = self.root / "cells"

    def path(self, key: str) -> Path:
        return self.cells_dir / key[:2] / f"{key}.json"

    def write(self, record: dict) -> Path:
        """Validate (``bench.records.record``: the JSON that will be on disk) and write atomically; an invalid record
        raises and writes nothing."""
        text = json.dumps(schema.stamp(record), allow_nan=False, default=_json_default)
        record = schema.check(json.loads(text))
        return write_text(self.path(record["key"]), text, durable=True)

    def read(self, key: str) -> dict | None:
        """The cell's record, or None where there is none or it is damaged (so its cell runs again)."""
        try:
            return schema.load(self.path(key))
        except (FileNotFoundError, RecordError):
            return None

    def status_of(self, key: str) -> str | None:
        record = self.read(key)
        return record["status"] if record else None

    def scan(self) -> tuple[list[dict], list[Damaged]]:
        """Every valid record in the folder, and every damaged file with its reason."""
        records, damaged = [], []
        for path in sorted(self.cells_dir.glob("*/*.json")):
            try:
                records.append(schema.load(path))
            except RecordError as exc:
                damaged.append(Damaged(path, exc.reason))
            except OSError as exc:
                damaged.append(Damaged(path, f"unreadable: {exc.strerror or exc}"))
        return records, damaged

    def records(self, keys: Iterable[str] | None = None) -> Iterator[dict]:
        """Valid records: of ``keys``, or all in the folder (damaged ones and copies left out)."""
        if keys is None:
            yield from self.scan()[0]
        else:
            for key in keys:
                record = self.read(key)
                if record is not None:
                    yield record

    def table(self, keys: Iterable[str] | None = None, labels: dict[str, dict] | None = None) -> pd.DataFrame:
        """Long format: one row per cell x metric output x which (estimate / input / oracle / a rule's name).

        ``labels`` maps a key to the labels a suite gives it (a cell shared by two suites is labelled by
        the suite asking). Failed cells appear once with a null metric, so they can be counted.
        """
        return long_table(self.records(keys), labels)

    def export_parquet(self, path: str | os.PathLike, keys=None, labels=None) -> Path:
        path = Path(path)
        self.table(keys, labels).to_parquet(path, index=False)
        return path


COLUMNS = ["key", "suite", "method", "dataset", "corruption", "profile", "item", "seed", "status", "metric",
           "which", "value", "method_name", "method_version", "dataset_name", "standin_for", "synthetic",
           "corruption_name", "wall_time_s", "device", "error", "iterates", "iterations"]


def long_table(records: Iterable[dict], labels: dict[str, dict] | None = None) -> pd.DataFrame:
    rows = []
    for r in records:
        lab = (labels or {}).get(r["key"], r.get("labels", {}))
        cfg = r["config"]
        ds = cfg["dataset"]
        synthetic = r["synthetic"]
        base = {"key": r["key"], "suite": lab.get("suite"), "method": lab.get("method", cfg["method"]["name"]),
                "dataset": lab.get("dataset", ds["name"]), "corruption": lab.get("corruption"),
                "profile": lab.get("profile"), "item": cfg["item"], "seed": cfg["seed"], "status": r["status"],
                "method_name": cfg["method"]["name"], "method_version": cfg["method"]["version"],
                "dataset_name": ds["name"], "standin_for": ds.get("standin_for"), "synthetic": synthetic,
                "corruption_name": cfg["corruption"]["name"], "wall_time_s": r.get("wall_time_s"),
                "device": r.get("device"), "error": r.get("error"),
                # whether the fit traced iterates (else every rule is its final estimate), and how many it ran
                "iterates": bool(r.get("trace")), "iterations": (cfg.get("protocol") or {}).get("iterations")}
        emitted = False
        for which, field in (("estimate", "scores"), ("input", "input_scores"), ("oracle", "oracle_scores")):
            for metric, value in (r.get(field) or {}).items():
                rows.append({**base, "metric": metric, "which": which, "value": value})
                emitted = True
        for rule, pick in (r.get("selected") or {}).items():  # which = the rule's name (bench.analysis.rules)
            for metric, value in ((pick or {}).get("scores") or {}).items():
                rows.append({**base, "metric": metric, "which": rule, "value": value})
        if not emitted:
            rows.append({**base, "metric": None, "which": None, "value": None})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a record")
