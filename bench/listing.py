"""What ``bench list`` shows, without importing torch, museval or pyroomacoustics when it can.

Methods, metrics and corruptions register themselves when their modules are imported, and importing them
pulls in torch and scipy (seconds). The names, versions and descriptions they register are kept in an
index under ``$BENCH_CACHE`` (``registry-index-<fingerprint>.json``); the fingerprint covers the package
version, every source file of the registries' packages (path, size, modification time), the modules named
in ``$BENCH_PLUGINS`` and the registered entry points, so any change to what would register makes a new
index. A miss imports the registries as before and writes the index. Suites are TOML files and always
read directly; ``--details`` (tasks, parameter counts) always imports.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from importlib.metadata import entry_points
from pathlib import Path

from bench.files import write_json
from bench.registry import REGISTRIES

INDEXED_KINDS = ("methods", "datasets", "corruptions", "metrics")


def listing(kinds: list[str]) -> dict[str, list[dict]]:
    """Each kind's entries as {name, version, description}, sorted by name."""
    indexed = [k for k in kinds if k in INDEXED_KINDS]
    out = _cached_index(indexed) if indexed else {}
    for kind in kinds:
        if kind not in out:
            out[kind] = [_plain(e) for e in REGISTRIES[kind].entries()]
    return {kind: out[kind] for kind in kinds}


def _plain(entry) -> dict:
    return {"name": entry.name, "version": entry.version, "description": entry.description}


def _cached_index(kinds: list[str]) -> dict[str, list[dict]]:
    from bench.clip_cache import cache_root

    root = cache_root()
    if root is None:
        return {kind: [_plain(e) for e in REGISTRIES[kind].entries()] for kind in kinds}
    path = root / f"registry-index-{fingerprint()}.json"
    try:
        index = json.loads(path.read_text())
        if all(kind in index for kind in kinds):
            return index
    except (OSError, ValueError):
        pass
    index = {kind: [_plain(e) for e in REGISTRIES[kind].entries()] for kind in INDEXED_KINDS}
    try:  # atomic, so a concurrent `bench list` never reads half an index
        write_json(path, index)
    except OSError:
        pass  # a read-only cache only costs the next listing its speed
    return index


def fingerprint() -> str:
    """A hash of everything that decides what the indexed registries hold."""
    import bench

    parts: list[str] = [bench.__version__, os.environ.get("BENCH_PLUGINS", "")]
    packages = [p for kind in INDEXED_KINDS for p in REGISTRIES[kind]._builtin_packages]
    modules = [m.strip() for m in os.environ.get("BENCH_PLUGINS", "").split(",") if m.strip()]
    for name in packages + modules:
        spec = importlib.util.find_spec(name)
        if spec is None:
            parts.append(f"{name}: missing")
            continue
        files = [Path(spec.origin)] if spec.origin and not spec.submodule_search_locations else \
            [f for d in spec.submodule_search_locations for f in sorted(Path(d).glob("*.py"))]
        parts.extend(f"{f}:{s.st_size}:{s.st_mtime_ns}" for f in files if (s := f.stat()))
    for kind in INDEXED_KINDS:
        parts.extend(f"{ep.group}:{ep.name}={ep.value}" for ep in entry_points(group=f"bench.{kind}"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
