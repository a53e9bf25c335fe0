"""Audio examples for reports: the clean, corrupted and restored signals of a cell, regenerated on demand.

Runs never save restored audio; a report re-runs the few cells it plays through ``bench.running.worker.reproduce``
(the same clip, corruption seed, method seed and protocol), so what is heard is what was scored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.planning.cells import Cell
from bench.running.worker import reproduce


@dataclass
class Example:
    clean: np.ndarray  # the reference ((T,), or (S, T) for separation)
    corrupted: np.ndarray  # what the method saw
    estimate: np.ndarray  # the method's output, same shape as ``clean``
    sr: int


def regenerate(cell: Cell, device: str = "cpu", data_root=None) -> Example:
    """Re-run one cell's pipeline and return its signals; raises if the cell cannot be run."""
    observation, estimate = reproduce(cell, device, data_root)
    return Example(observation.reference, observation.signal, estimate.signal, observation.sr)
