"""Audio examples for reports: the clean, corrupted and restored signals of a cell, regenerated on demand.

Runs never save restored audio; a report re-runs the few cells it plays through the worker's own stages
(the same clip, corruption seed, method seed and protocol), so what is heard is what was scored.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bench.audio import Estimate
from bench.cells import Cell
from bench.method import build_method
from bench.worker import MethodFailure, _CellRun, _check_estimate


@dataclass
class Example:
    clean: np.ndarray  # the reference ((T,), or (S, T) for separation)
    corrupted: np.ndarray  # what the method saw
    estimate: np.ndarray  # the method's output, same shape as ``clean``
    sr: int


def regenerate(cell: Cell, device: str = "cpu", data_root=None) -> Example:
    """Re-run one cell's pipeline and return its signals; raises if the cell cannot be run."""
    run = _CellRun(cell, device, data_root, time.monotonic())
    if not run.prepare():
        raise MethodFailure(f"cannot prepare cell {cell.key}: {run.record['error']}")
    method = build_method(cell.method["name"], cell.method["params"])
    result = method.restore(run.observation.for_method(), run.context)
    estimate = result if isinstance(result, Estimate) else Estimate(result)
    _check_estimate(estimate.signal, run.observation.reference)
    return Example(run.observation.reference, run.observation.signal, estimate.signal, run.observation.sr)


def choose_items(cells: list[Cell], per_table: int) -> list[str]:
    """A deterministic handful of items per table: the first ``per_table`` in sorted order."""
    items = sorted({c.config["item"] for c in cells})
    return items[:per_table]
