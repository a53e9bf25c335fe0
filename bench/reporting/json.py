"""The tables as JSON, for scripts: each table's rows, columns and cells (statistic, std, n, best, the
paper's number and our difference), with its banners and caption."""
from __future__ import annotations

import json
import math

from bench.reporting.tables import caption, entries


def render_json(tables) -> str:
    return json.dumps({"tables": [_table(t, entries(t), caption(t)) for t in tables]}, indent=2,
                      ensure_ascii=False) + "\n"


def _table(table, values: dict, text: str) -> dict:
    return {
        "suite": table.suite.name, "title": table.suite.title, "paper": table.suite.paper,
        "profile": table.profile, "statistic": table.statistic, "which": table.which, "rule": table.rule,
        "row_fields": table.row_fields, "column_fields": table.column_fields,
        "rows": [list(r) for r in table.rows], "columns": [list(c) for c in table.columns],
        "cells": [{"row": list(row), "column": list(column), "value": _number(e.value),
                   "mean" if table.statistic == "mean" else "median": _number(e.value), "std": _number(e.std),
                   **({"q25": _number(e.quartiles[0]), "q75": _number(e.quartiles[1])} if e.quartiles else {}),
                   "n": e.n, "best": e.best, "reference": e.reference and _plain(e.reference),
                   "difference": _number(e.difference)}
                  for (row, column), e in values.items()],
        "details": [{"row": list(row), **dict(zip(table.detail_headers, texts))}
                    for row, texts in table.details.items()],
        "banners": table.banners, "caption": text}


def _plain(reference: dict) -> dict:
    """The paper's number as the suite gives it (mean, std where printed), without the lookup keys."""
    return {k: reference[k] for k in ("mean", "std") if k in reference}


def _number(value: float | None) -> float | None:
    """JSON has no NaN: a missing or undefined number is null."""
    return None if value is None or not math.isfinite(value) else float(value)
