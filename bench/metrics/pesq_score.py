"""PESQ (ITU-T P.862) through the ``pesq`` package: wide-band at 16 kHz and narrow-band at 8 kHz.

Both signals are resampled with soxr (its default high-quality filter) to the rate each mode is defined at,
then scored as ``pesq(rate, reference, estimate, mode)``: the reference comes first and the score is not
symmetric. PESQ is meant for speech: on tones or noise it sits near the floor of its scale. A pair it
cannot score (shorter than 0.25 s, silence, no utterance found) raises MetricUndefined with the reason,
so the cell records a failed metric rather than failing. The waveform-prior code counted such an error as
a score of 0; here it stays missing and is reported as such.
"""
from __future__ import annotations

import numpy as np
import soxr
from pesq import PesqError, pesq

from bench.metrics import MetricUndefined, metric

_MIN_SECONDS = 0.25  # the shortest input the pesq package accepts


def pesq_score(reference: np.ndarray, estimate: np.ndarray, sr: int, mode: str) -> float:
    rate = 16000 if mode == "wb" else 8000
    if reference.size < _MIN_SECONDS * sr:
        raise MetricUndefined(f"PESQ needs at least {_MIN_SECONDS} s of audio, got {reference.size / sr:.3f} s")
    if not np.any(reference):
        raise MetricUndefined("PESQ is undefined for a silent reference")
    if not np.any(estimate):  # the pesq package fails on it with an unrelated ValueError
        raise MetricUndefined("PESQ is undefined for a silent estimate")
    if sr != rate:
        reference = soxr.resample(reference, sr, rate)
        estimate = soxr.resample(estimate, sr, rate)
    try:
        return float(pesq(rate, reference, estimate, mode))
    except PesqError as exc:  # NoUtterancesError, BufferTooShortError, ...
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise MetricUndefined(f"PESQ ({mode}) cannot score this pair: {reason}") from exc


@metric("pesq_wb", unit="MOS-LQO", higher_is_better=True, trace_safe=False)
def pesq_wb(reference, estimate, sr):
    """Wide-band PESQ (P.862.2) at 16 kHz, both signals resampled to 16 kHz with soxr."""
    return pesq_score(reference, estimate, sr, "wb")


@metric("pesq_nb", unit="MOS-LQO", higher_is_better=True, trace_safe=False)
def pesq_nb(reference, estimate, sr):
    """Narrow-band PESQ (P.862, MOS-LQO mapping) at 8 kHz, both signals resampled to 8 kHz with soxr."""
    return pesq_score(reference, estimate, sr, "nb")
