"""RMS envelope distance (Morgado et al. 2018), the spectral-prior paper's inpainting and separation metric.

ENV = sqrt( mean_t ( |hilbert(s)|[t] - |hilbert(s_hat)|[t] )^2 ): the RMS difference of the Hilbert
(analytic-signal) envelopes over the whole clip, with no alignment, smoothing or normalisation, in the
signal's own amplitude units; lower is better. On a set of sources it is averaged over sources, as Morgado
et al. average over channels.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import hilbert

from bench.metrics import metric


@metric("envelope_distance", unit="", higher_is_better=False)
def envelope_distance(reference, estimate, sr):
    """RMS distance between Hilbert envelopes, sqrt(mean((|H(s)| - |H(s_hat)|)^2)); lower is better."""
    return float(np.sqrt(np.mean((np.abs(hilbert(reference)) - np.abs(hilbert(estimate))) ** 2)))
