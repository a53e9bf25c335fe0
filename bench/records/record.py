"""The record: what one finished cell leaves in the results folder, the one place records are built, and
the schema every reader relies on.

A record stands alone: it carries the cell's hashed configuration (method, dataset, corruption, item, seed,
metrics and the resolved protocol), the labels of the table that first ran it (suite, method, dataset,
corruption, profile), the options it was run with (``run_options``: its time limit), whether its clips were
generated (``synthetic``, decided when the cell was expanded), its status and its scores: of the final
estimate (``scores``), each output's best traced iterate (``oracle_scores``) and, per selection rule of
``bench.analysis.rules``, the iterate it picked with every metric there (``selected``: rule -> {"iteration",
"scores", "reason" where the rule picked nothing}; absent from records written before the rules existed).
Reports, status and compare can therefore work from a results folder without the corpora or the run's flags.

Every field and its type is listed in ``record.schema.json`` (shipped with the package; a field it does not
list is refused). Records are made only here: ``of_cell`` for a cell that ran (ok, failed, timed out),
``lost`` for one whose worker, job or training never gave it a result. ``check`` validates a record on write
and on read; a record that fails is *damaged*: listed by ``bench status`` with its reason, treated as
missing by ``bench run`` (so its cell runs again), and never counted by a report.
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

RECORD_FORMAT = 1  # bump when a field's meaning changes; records of format 0 (before this module) are upgraded
STATUSES = ("ok", "failed", "timeout")
SCHEMA_FILE = "record.schema.json"


class RecordError(ValueError):
    """A record that does not follow the schema; ``reason`` says why in a few words."""

    def __init__(self, reason: str, path: Path | None = None):
        self.reason, self.path = reason, path
        super().__init__(f"{path}: {reason}" if path else reason)


@functools.cache
def schema() -> dict:
    """The record's JSON Schema, as shipped in the package."""
    return json.loads(resources.files("bench.records").joinpath(SCHEMA_FILE).read_text())


@functools.cache
def _validator(entries: bool):
    """The schema's validator; without ``entries``, of the named fields only (``_named_fields``)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema() if entries else _named_fields(schema()))


def _named_fields(node: dict) -> dict:
    """``node`` without the schemas of its collections' entries (trace points, scores, rules' picks): the
    named fields at every depth, their types, and no unknown field. Checking a record's 200 trace points
    takes jsonschema about 100 ms, its named fields under 1 ms, so a record is checked whole when it is
    written and by its named fields when it is read (a report reads thousands)."""
    if "$ref" in node:
        node = schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    out = {word: node[word] for word in ("type", "enum", "required") if word in node}
    if "properties" in node:
        out["properties"] = {name: _named_fields(field) for name, field in node["properties"].items()}
    if node.get("additionalProperties") is False:
        out["additionalProperties"] = False
    return out


FIELDS = frozenset(schema()["properties"])


# -- building ----------------------------------------------------------------------------------------------
def of_cell(cell, *, status: str, device: str | None, error: str | None = None, **fields) -> dict:
    """The record of ``cell`` (a ``bench.planning.cells.Cell``): its identity, how it was run, and ``fields`` (scores,
    trace, timings ...: names the schema lists)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (expected {', '.join(STATUSES)})")
    identity = {"format": RECORD_FORMAT, "key": cell.key, "config": cell.config, "labels": cell.labels,
                "run_options": dict(cell.run_options), "synthetic": bool(cell.synthetic)}
    unknown = sorted(set(fields) - FIELDS) or sorted(set(fields) & set(identity))
    if unknown:
        raise TypeError(f"not a record field the cell's results may set: {', '.join(unknown)}")
    return {**identity, "status": status, "device": device, "error": error, **fields}


def lost(cell, device: str | None, status: str, reason: str) -> dict:
    """The record of a cell that never gave a result (its worker died or was stopped, its submitit job
    failed, its training did not finish): no scores, the reason why."""
    from bench.core.provenance import provenance

    return of_cell(cell, status=status, device=device, error=reason, wall_time_s=None, peak_rss_mb=None,
                   peak_cuda_mb=None, provenance=provenance())


# -- checking ----------------------------------------------------------------------------------------------
def stamp(record: dict) -> dict:
    """Complete a record: the schema's format where it has none (records are built by ``of_cell``, which
    sets it; this keeps hand-made records of tests and tools writable)."""
    record.setdefault("format", RECORD_FORMAT)
    return record


def check(record, path: Path | None = None, *, entries: bool = True) -> dict:
    """Return ``record`` if it follows the schema (upgrading format 0), else raise ``RecordError``.

    With ``path``, the file name must be the record's key: a copy under another name is damaged, so it is
    never counted beside the original. ``entries=False`` leaves out the entries of its collections (see
    ``_named_fields``): how ``load`` reads a record that ``check`` passed whole when it was written.
    """
    if not isinstance(record, dict):
        raise RecordError(f"not a JSON object but {type(record).__name__}", path)
    if "format" not in record and "status" in record:  # written before records had a format
        record = _upgrade(record)
    version = record.get("format")
    if isinstance(version, int) and not isinstance(version, bool) and version > RECORD_FORMAT:
        raise RecordError(f"record format {version} is newer than this bench's {RECORD_FORMAT}", path)
    error = next(iter(sorted(_validator(entries).iter_errors(record), key=_first_reported)), None)
    if error is not None:
        raise RecordError(_reason(error), path)
    if path is not None and Path(path).stem != record["key"]:
        raise RecordError(f"file name is not the record's key {record['key']}", path)
    return record


def load(path: Path) -> dict:
    """Read and validate one record file (its named fields: ``check``); ``RecordError`` for an empty,
    truncated, non-JSON or invalid one."""
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
    return check(record, path, entries=False)


def _upgrade(record: dict) -> dict:
    """A format-0 record as format 0 of this schema: it had no ``synthetic`` field, so learn it from its
    dataset (the one place a dataset is built for a record: later records carry it from expansion)."""
    out = {**record, "format": 0}
    if "synthetic" not in out and isinstance(out.get("config"), dict):
        out["synthetic"] = dataset_is_synthetic(out["config"].get("dataset") or {})
    return out


def dataset_is_synthetic(dataset: dict) -> bool:
    """Whether a record's dataset is generated (a combinator such as ``stack`` decides per instance)."""
    from bench.components.dataset import build_dataset

    try:
        return bool(build_dataset(dataset["name"], dataset.get("params")).synthetic)
    except Exception:  # noqa: BLE001 - an unregistered or changed dataset: not known to be synthetic
        return False


def _first_reported(error) -> tuple:
    """Order of the errors to report: the record's own fields before nested ones, missing fields first."""
    return len(error.absolute_path), error.validator != "required", list(map(str, error.absolute_path))


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
               type(None): "null"}


def _reason(error) -> str:
    """A schema violation in the few words of the record's other errors: "no 'status' field", "unknown
    status 'done' ...", "config has no valid 'seed'", "'wall_time_s' is string, not number or null"."""
    where = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"no {missing!r} field" if not where else f"{'.'.join(where)} has no {missing!r}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown field {'.'.join([*where, extra[0]])!r}" if extra else error.message
    if where == ["status"]:
        return f"unknown status {error.instance!r} (expected {', '.join(STATUSES)})"
    if len(where) == 2 and where[0] == "config":
        return f"config has no valid {where[1]!r}"
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        found = _JSON_TYPES.get(type(error.instance), type(error.instance).__name__)
        return f"{'.'.join(where)!r} is {found}, not {' or '.join(expected)}"
    return f"{'.'.join(where) or 'record'}: {error.message}"
