"""The configuration hash: one stable key for a cell's and a training job's canonical configuration.

A key is the first 32 hex digits of the SHA-256 of the configuration's canonical JSON (keys sorted, no
spaces, ASCII only), so the same configuration gives the same key in every process and on every machine.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_jsonable)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} in a hashed configuration")


def config_key(config: dict) -> str:
    """The stable key of a canonical configuration (a cell's or a training job's)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:32]
