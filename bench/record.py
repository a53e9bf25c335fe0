"""The record: what one finished cell leaves in the results folder, and the schema every reader relies on.

A record stands alone: it carries the cell's hashed configuration (method, dataset, corruption, item, seed,
metrics and the resolved protocol), the labels of the table that first ran it (suite, method, dataset,
corruption, profile), whether its clips were generated (``synthetic``), its status and its scores: of the
final estimate (``scores``), each output's best traced iterate (``oracle_scores``) and, per selection rule
of ``bench.rules``, the iterate it picked with every metric there (``selected``: rule -> {"iteration",
"scores", "reason" where the rule picked nothing}; absent from records written before the rules existed). Reports,
status and compare can therefore work from a results folder without the corpora or the run's flags.

``check`` validates a record on write and on read; a record that fails is *damaged*: listed by
``bench status`` with its reason, treated as missing by ``bench run`` (so its cell runs again), and never
counted by a report.
"""
from __future__ import annotations

import json
from pathlib import Path

RECORD_FORMAT = 1  # bump when a field's meaning changes; records of format 0 (before this module) are upgraded
STATUSES = ("ok", "failed", "timeout")

# field -> accepted types; every record has these
REQUIRED = {"format": int, "key": str, "config": dict, "labels": dict, "status": str, "synthetic": bool}
# field -> accepted types, where present
OPTIONAL = {"error": (str, type(None)), "scores": (dict, type(None)), "input_scores": (dict, type(None)),
            "oracle_scores": (dict, type(None)), "selected": (dict, type(None)), "metric_errors": (dict, type(None)), "trace": (list, type(None)),
            "wall_time_s": (int, float, type(None)), "device": (str, type(None)),
            "finished_at": (str, type(None)), "provenance": (dict, type(None))}
CONFIG_REQUIRED = {"method": dict, "dataset": dict, "corruption": dict, "item": (str, int), "seed": int}


class RecordError(ValueError):
    """A record that does not follow the schema; ``reason`` says why in a few words."""

    def __init__(self, reason: str, path: Path | None = None):
        self.reason, self.path = reason, path
        super().__init__(f"{path}: {reason}" if path else reason)


def stamp(record: dict) -> dict:
    """Complete a record the worker built: the schema's format and the ``synthetic`` flag."""
    record.setdefault("format", RECORD_FORMAT)
    if "synthetic" not in record and isinstance(record.get("config"), dict):
        record["synthetic"] = dataset_is_synthetic(record["config"].get("dataset") or {})
    return record


def check(record, path: Path | None = None) -> dict:
    """Return ``record`` if it follows the schema (upgrading format 0), else raise ``RecordError``.

    With ``path``, the file name must be the record's key: a copy under another name is damaged, so it is
    never counted beside the original.
    """
    if not isinstance(record, dict):
        raise RecordError(f"not a JSON object but {type(record).__name__}", path)
    if "format" not in record and "status" in record:  # written before records had a format
        record = stamp({**record, "format": 0})
    for name, kinds in REQUIRED.items():
        if name not in record:
            raise RecordError(f"no {name!r} field", path)
        if not isinstance(record[name], kinds) or (kinds is int and isinstance(record[name], bool)):
            raise RecordError(f"{name!r} is {type(record[name]).__name__}, not {_names(kinds)}", path)
    if record["format"] > RECORD_FORMAT:
        raise RecordError(f"record format {record['format']} is newer than this bench's {RECORD_FORMAT}", path)
    if record["status"] not in STATUSES:
        raise RecordError(f"unknown status {record['status']!r} (expected {', '.join(STATUSES)})", path)
    for name, kinds in OPTIONAL.items():
        if name in record and not isinstance(record[name], kinds):
            raise RecordError(f"{name!r} is {type(record[name]).__name__}, not {_names(kinds)}", path)
    for name, kinds in CONFIG_REQUIRED.items():
        if not isinstance(record["config"].get(name), kinds):
            raise RecordError(f"config has no valid {name!r}", path)
    if path is not None and Path(path).stem != record["key"]:
        raise RecordError(f"file name is not the record's key {record['key']}", path)
    return record


def load(path: Path) -> dict:
    """Read and validate one record file; ``RecordError`` for an empty, truncated, non-JSON or invalid one."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise RecordError("not text", path) from None
    if not text.strip():
        raise RecordError("empty file", path)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON (truncated?): {exc.msg} at line {exc.lineno}", path) from None
    return check(record, path)


def dataset_is_synthetic(dataset: dict) -> bool:
    """Whether a record's dataset is generated (a combinator such as ``stack`` decides per instance)."""
    from bench.dataset import build_dataset

    try:
        return bool(build_dataset(dataset["name"], dataset.get("params")).synthetic)
    except Exception:  # noqa: BLE001 - an unregistered or changed dataset: not known to be synthetic
        return False


def _names(kinds) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
