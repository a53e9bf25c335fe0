"""Scoring trace points off the fitting thread: a pool of processes scores iterates while the fit goes on.

A fit reports an iterate every ``trace_every`` iterations and, synchronously, waits while the harness
scores it (PESQ 84 ms, BSS Eval 31 ms per second of audio on one core): on a GPU that host work leaves the
device idle most of the time. With asynchronous scoring the worker hands each iterate to a pool of
processes and returns to the fit at once; a cell's trace is assembled, in iteration order, when the cell
finishes. The scores are computed by the same code on the same arrays, so the record is identical to a
synchronous one (tests/test_trace_scoring.py checks it).

When: ``$BENCH_TRACE_WORKERS`` processes per worker (0: synchronous). Unset, it is on for CUDA cells
(2 processes, or fewer where the host has fewer cores) and off on the CPU, where the pool would only take
cores from the fits.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from bench.running.scoring import Scorer

_POOL: ProcessPoolExecutor | None = None


def trace_workers(device: str) -> int:
    """Scoring processes for a cell on ``device``: ``$BENCH_TRACE_WORKERS``, else 2 on CUDA, else 0."""
    setting = os.environ.get("BENCH_TRACE_WORKERS", "").strip()
    if setting:
        try:
            return max(0, int(setting))
        except ValueError:
            raise ValueError(f"BENCH_TRACE_WORKERS must be a whole number, not {setting!r}") from None
    return min(2, os.cpu_count() or 1) if device.startswith("cuda") else 0


def _pool(workers: int) -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        # spawn: a forked copy of a process that has started CUDA or torch's thread pools is not safe
        _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_POOL.shutdown, cancel_futures=True)
    return _POOL


def score_point(metric_names: list[str], reference: np.ndarray, sr: int, known: dict | None, signal: np.ndarray,
                trace_only: bool, input_scores: dict) -> dict:
    """One trace point's scores, in a scoring process (``bench.running.scoring.Scorer.trace_point``)."""
    from bench.metrics import get_metric

    scorer = Scorer([get_metric(name) for name in metric_names], reference, sr, known)
    return scorer.trace_point(signal, input_scores, trace_only)


class AsyncTrace:
    """A cell's trace points in flight: ``submit`` each iterate, ``collect`` the trace (iteration order)."""

    def __init__(self, workers: int, metric_names: list[str], reference: np.ndarray, sr: int, trace_only: bool,
                 input_scores: dict, known: dict | None = None):
        self.workers = workers
        self.fixed = (list(metric_names), reference, sr, known)  # known: the mask a gap metric scores inside
        self.trace_only, self.input_scores = trace_only, dict(input_scores)
        self.pending: list[tuple[int, Future]] = []

    def submit(self, iteration: int, signal: np.ndarray) -> None:
        future = _pool(self.workers).submit(score_point, *self.fixed, np.array(signal), self.trace_only,
                                            self.input_scores)
        self.pending.append((int(iteration), future))

    def collect(self) -> tuple[list[dict], BaseException | None]:
        """Wait for every submitted point: the scored points (iteration order) and the first failure, if any
        (the caller raises it after keeping the other points, so it fails the cell as a synchronous one would)."""
        trace, failure = [], None
        for iteration, future in self.pending:
            try:
                trace.append({"iteration": iteration, "scores": future.result()})
            except Exception as exc:  # noqa: BLE001 - reported to the caller after the other points
                failure = failure or exc
        self.pending = []
        return trace, failure


def start(device: str, metric_names: list[str], scorer: Scorer, input_scores: dict,
          trace_only: bool) -> AsyncTrace | None:
    """The asynchronous trace of a cell on ``device`` scored by ``scorer``'s reference, rate and mask, or None
    where its points are to be scored synchronously (``trace_workers``)."""
    workers = trace_workers(device)
    if not workers:
        return None
    return AsyncTrace(workers, metric_names, scorer.reference, scorer.sr, trace_only=trace_only,
                      input_scores=input_scores, known=scorer.known)
