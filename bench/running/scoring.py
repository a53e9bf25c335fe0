"""Scoring an estimate of one cell: its metrics against the clean reference, and the improvements over the input.

Used by the worker (the final estimate, synchronously traced iterates, the rules' picks) and by the processes
of ``bench.running.trace_scoring`` (traced iterates scored off the fitting thread): one code, so both give the same
numbers.
"""
from __future__ import annotations

import numpy as np

from bench.metrics import Metric, evaluate


class Scorer:
    def __init__(self, metrics: list[Metric], reference: np.ndarray, sr: int, known: dict | None = None):
        self.metrics, self.reference, self.sr, self.known = metrics, reference, sr, known
        self.trace_metrics = [m for m in metrics if m.trace_safe]

    def score(self, estimate: np.ndarray, trace_only: bool = False) -> tuple[dict, dict]:
        return evaluate(self.trace_metrics if trace_only else self.metrics, self.reference, estimate, self.sr,
                        self.known)

    def improvements(self, scores: dict, input_scores: dict, only_scored: bool = False) -> dict:
        """Each improvement metric's value (None where a score is missing; left out with ``only_scored``
        where the estimate's base score was not computed, as on a traced iterate without that metric)."""
        out = {}
        for m in self.metrics:
            if m.base is not None:
                if only_scored and m.base not in scores:
                    continue
                a, b = scores.get(m.base), input_scores.get(m.base)
                out[m.name] = None if a is None or b is None else a - b
        return out

    def trace_point(self, signal: np.ndarray, input_scores: dict, trace_only: bool) -> dict:
        """One traced iterate's scores: the metrics (only the trace-safe ones with ``trace_only``) and the
        improvements of those scored."""
        scores, _ = self.score(signal, trace_only=trace_only)
        scores.update(self.improvements(scores, input_scores, only_scored=True))
        return scores
