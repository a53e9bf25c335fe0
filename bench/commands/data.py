"""``bench data status``: which real corpora are on disk, where they were looked for, and what they hold."""
from __future__ import annotations

import json
import math
import os

from bench.components.dataset import DEFAULT_DATA_ROOT, CorpusMissing, data_root


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="the real corpora: where they are looked for and what was found")
    sub = parser.add_subparsers(dest="data_command")
    status = sub.add_parser("status", help="for every corpus: found or missing, path, items, rate, duration, "
                                           "expected layout and download address")
    status.add_argument("--data", help=f"data root (default: $BENCH_DATA or {DEFAULT_DATA_ROOT})")
    status.add_argument("--json", action="store_true", help="one JSON document instead of text")
    status.set_defaults(handler=cmd_status)
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])


def cmd_status(args) -> int:
    from bench.core.registry import DATASETS

    root = data_root(args.data)
    origin = "--data" if args.data else "$BENCH_DATA" if os.environ.get("BENCH_DATA") else "default"
    corpora = [corpus_status(entry.name, entry.obj, args.data) for entry in DATASETS.entries()
               if getattr(entry.obj, "folder", None)]
    if args.json:
        print(json.dumps({"data_root": str(root), "data_root_from": origin, "corpora": corpora}, indent=2))
    else:
        print(render(root, origin, corpora))
    return 0


def corpus_status(name: str, cls, root) -> dict:
    """Everything ``bench data status`` reports about one corpus (never raises for a bad corpus)."""
    status = {"name": name, "folder": cls.folder, "aliases": list(getattr(cls, "folder_aliases", ())),
              "layout": cls.layout.strip(), "url": cls.url, "standin": cls.standin}
    try:
        corpus = cls(root=root)
    except (TypeError, ValueError) as exc:
        return {**status, "status": "error", "path": None, "error": str(exc)}
    status["path"] = str(corpus.root)
    if not corpus.root.is_dir():
        return {**status, "status": "missing", "error": str(corpus.missing()) if hasattr(corpus, "missing")
                else f"no folder {corpus.root}"}
    try:
        corpus.check()
        splits = {s: len(corpus.item_ids(s)) for s in dict.fromkeys((*corpus.splits, "all"))}
    except CorpusMissing as exc:
        return {**status, "status": "malformed", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - status must describe any corpus, even a broken plugin
        return {**status, "status": "malformed", "error": f"{type(exc).__name__}: {exc}"}
    status.update(status="found", revision=corpus.revision, items=splits.get("all"), splits=splits)
    if hasattr(corpus, "probe"):
        probe = corpus.probe()
        tracks = corpus.tracks()
        files = {ref.path for t in tracks for ref in t.sources.values()}
        status.update(tracks=len(tracks), files=len(files), items_per_track=corpus.clips_per_file,
                      sample_rates=probe["sample_rates"], channels=probe["channels"],
                      duration_s=_finite(probe["total_seconds"]), duration_estimated=probe["estimated"],
                      probed_files=probe["probed"], unreadable=probe["errors"])
    return status


def render(root, origin: str, corpora: list[dict]) -> str:
    lines = [f"data root: {root}  (from {origin}; set with --data DIR or $BENCH_DATA, default {DEFAULT_DATA_ROOT})",
             ""]
    for c in corpora:
        lines.append(f"{c['name']:<15} {c['status'].upper():<10} {c.get('path') or ''}")
        if c["status"] == "found":
            lines.append(f"    {_summary(c)}")
            for error in c.get("unreadable", [])[:5]:
                lines.append(f"    unreadable: {error}")
            continue
        if c["status"] == "missing":
            also = ", ".join(f"{a}/" for a in c["aliases"])
            reason = f"not found: no {c['folder']}/ under the data root" + (f" (nor {also})" if also else "")
        else:
            reason = c["error"].splitlines()[0]
        lines.append(f"    {reason}")
        lines.append("    expected layout:")
        lines += [f"      {line}" for line in c["layout"].splitlines()]
        lines.append(f"    download: {c['url']}")
        if c.get("standin"):
            lines.append(f"    stand-in under --synthetic: {c['standin']}")
    found = sum(c["status"] == "found" for c in corpora)
    lines += ["", f"{found} of {len(corpora)} corpora found."]
    return "\n".join(lines)


def _summary(c: dict) -> str:
    splits = ", ".join(f"{k} {v}" for k, v in c["splits"].items() if k != "all")
    text = f"items: {c['items']} ({splits})"
    if "tracks" in c:
        files = f" ({c['files']} files)" if c["files"] != c["tracks"] else ""
        per = f", {c['items_per_track']} excerpts each" if c["items_per_track"] > 1 else ""
        rates = "/".join(str(r) for r in c["sample_rates"]) or "?"
        channels = "/".join(str(n) for n in c["channels"]) or "?"
        text += f"; {c['tracks']} recordings{files}{per}; {rates} Hz, {channels} channel(s)"
        if c["duration_s"] is not None:
            how = f"estimated from {c['probed_files']} recordings" if c["duration_estimated"] else "all measured"
            text += f"; {_hours(c['duration_s'])} ({how})"
    return text


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min" if seconds >= 60 \
        else f"{seconds:.1f} s"


def _finite(value: float):
    return None if value is None or not math.isfinite(value) else round(float(value), 3)
