"""Seeds derived by hashing, so that a seed depends only on the things it should depend on.

The corruption's seed depends on (suite seed, dataset, item, corruption) and never on the method, so every
method sees the same corrupted input. The method's seed depends on (seed, method, dataset, item).
"""
from __future__ import annotations

import hashlib
import json

import numpy as np


def derive_seed(*parts) -> int:
    """A 63-bit integer seed from any JSON-serialisable parts (order matters)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def rng_from(*parts) -> np.random.Generator:
    return np.random.default_rng(derive_seed(*parts))


def item_seed(dataset: str, item: str) -> int:
    """Seed for preparing an item's clip (offset choice, synthesis): the same in every cell."""
    return derive_seed("item", dataset, item)


def corruption_seed(seed: int, dataset: str, item: str, corruption: dict) -> int:
    return derive_seed("corruption", seed, dataset, item, corruption)


def method_seed(seed: int, method: dict, dataset: str, item: str) -> int:
    return derive_seed("method", seed, method, dataset, item)
