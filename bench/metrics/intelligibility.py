"""Short-time objective intelligibility (STOI, Taal et al. 2011) through pystoi.

pystoi resamples both signals to 10 kHz itself and drops the frames where the clean speech is silent. When
too few frames are left it warns and returns 1e-5; here that is MetricUndefined with its reason instead of
a score that looks like a measurement.
"""
from __future__ import annotations

import warnings

from pystoi import stoi as pystoi_stoi

from bench.metrics import MetricUndefined, metric


@metric("stoi", unit="", higher_is_better=True, trace_safe=False)
def stoi(reference, estimate, sr):
    """Short-time objective intelligibility (pystoi, classic STOI), 0 to 1."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi_stoi(reference, estimate, sr, extended=False)
    for w in caught:
        if "Not enough STFT frames" in str(w.message):
            raise MetricUndefined(f"STOI cannot score this pair: {w.message}")
    return float(value)
