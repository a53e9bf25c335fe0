"""Tables as CSV: one line per aggregated table entry, with its best flag and the paper's number."""
from __future__ import annotations

import pandas as pd

from bench.reporting.tables import Table, entries


def render_csv(tables: list[Table]) -> str:
    frames = []
    for table in tables:
        values = entries(table)
        frame = table.cells.copy()
        frame.insert(0, "suite", table.suite.name)
        frame["profile"] = table.profile
        frame["which"] = table.which
        found = [values.get((tuple(r[f] for f in table.row_fields), tuple(r[f] for f in table.column_fields)))
                 for _, r in frame.iterrows()]
        refs = [entry.reference if entry else None for entry in found]
        frame["best"] = [bool(entry and entry.best) for entry in found]
        frame["paper_mean"] = [ref["mean"] if ref else None for ref in refs]
        frame["paper_std"] = [ref.get("std") if ref else None for ref in refs]
        frame["synthetic"] = any("SYNTHETIC" in b for b in table.banners)
        rows = [tuple(r[f] for f in table.row_fields) for _, r in frame.iterrows()]
        for at, name in enumerate(table.detail_headers):  # the layout's details: the row's method's facts
            frame[name] = [table.details[row][at] if row in table.details else None for row in rows]
        frames.append(frame)
    if not frames:
        return ""
    return pd.concat(frames, ignore_index=True).to_csv(index=False)
