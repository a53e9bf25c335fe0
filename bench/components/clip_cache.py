"""An on-disk cache of decoded, mono, resampled audio, so each file is decoded and resampled once.

Entries live under ``$BENCH_CACHE`` (default ``~/.cache/bench``) in ``audio/<corpus>/``, one ``.npz`` per
key. The key is a hash of everything the prepared signal depends on (corpus, its revision, the file's
path, size and modification time, the stream, the target rate and the preparation), so a changed file or
preparation makes a new entry and never reads a stale one. ``BENCH_CACHE=off`` disables the cache.
Writes are atomic (temporary file + rename): concurrent workers may race to fill an entry, never corrupt it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from bench.core.files import write_with


def cache_root() -> Path | None:
    value = os.environ.get("BENCH_CACHE", "~/.cache/bench")
    if value.strip().lower() in ("off", "0", "none", ""):
        return None
    return Path(value).expanduser()


def cache_key(parts: dict) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def cached_signal(corpus: str, parts: dict, compute: Callable[[], tuple[np.ndarray, dict]]
                  ) -> tuple[np.ndarray, dict]:
    """The cached (signal, info) for ``parts``, computing and storing it on a miss.

    ``info`` is a small JSON-serialisable dict kept beside the signal (for example the source rate).
    """
    root = cache_root()
    if root is None:
        return compute()
    path = root / "audio" / _safe(corpus) / f"{cache_key(parts)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return data["signal"], json.loads(str(data["info"]))
        except Exception:  # noqa: BLE001 - a damaged entry is recomputed and replaced
            pass
    signal, info = compute()
    _store(path, signal, info)
    return signal, info


def _store(path: Path, signal: np.ndarray, info: dict) -> None:
    try:
        write_with(path, lambda f: np.savez(f, signal=signal, info=np.array(json.dumps(info))))
    except OSError:
        pass  # a read-only or full cache only costs speed


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "corpus"
