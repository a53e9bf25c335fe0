"""Short-time objective intelligibility (STOI, Taal et al. 2011) through pystoi.

pystoi resamples both signals to 10 kHz itself and drops the frames where the clean speech is silent. When
too few frames are left it warns and returns 1e-5; here that is MetricUndefined with its reason instead of
a score that looks like a measurement; so is a clip shorter than one of its 256-sample frames at 10 kHz
(pystoi fails on it with an index error).
"""
from __future__ import annotations

import warnings

from pystoi import stoi as pystoi_stoi

from bench.metrics import MetricUndefined, metric

STOI_RATE, STOI_FRAME = 10000, 256  # pystoi's internal rate and frame length


@metric("stoi", unit="", higher_is_better=True, trace_safe=False)
def stoi(reference, estimate, sr):
    """Short-time objective intelligibility (pystoi, classic STOI), 0 to 1."""
    if len(reference) * STOI_RATE < (STOI_FRAME + 1) * sr:
        raise MetricUndefined(f"STOI is undefined for a clip shorter than one {STOI_FRAME}-sample frame at "
                              f"{STOI_RATE} Hz ({len(reference)} samples at {sr} Hz)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi_stoi(reference, estimate, sr, extended=False)
    for w in caught:
        if "Not enough STFT frames" in str(w.message):
            raise MetricUndefined(f"STOI cannot score this pair: {w.message}")
    return float(value)
