"""Waveform-domain energy ratios: SNR and scale-invariant SDR (= SI-SNR as these papers use it).

Where a ratio's terms vanish the score is undefined (MetricUndefined, recorded as missing with its reason):
SNR against a silent reference, SI-SDR of a constant (or silent) estimate or reference, whose zero-mean part
is nothing. The epsilon below only keeps a perfect estimate finite.
"""
from __future__ import annotations

import numpy as np

from bench.metrics import improvement, metric, require_sound, require_variation

_EPS = 1e-12


def _db(numerator: float, denominator: float) -> float:
    return float(10.0 * np.log10((numerator + _EPS) / (denominator + _EPS)))


@metric("snr", unit="dB", higher_is_better=True)
def snr(reference, estimate, sr):
    """Signal-to-noise ratio: 10 log10(|s|^2 / |s - s_hat|^2), no rescaling."""
    require_sound(reference, "SNR", "reference")
    return _db(np.sum(reference**2), np.sum((reference - estimate) ** 2))


@metric("si_sdr", unit="dB", higher_is_better=True)
def si_sdr(reference, estimate, sr):
    """Scale-invariant SDR (Le Roux et al. 2019), zero-mean: the SI-SNR of these papers."""
    require_variation(reference, "SI-SDR", "reference")
    require_variation(estimate, "SI-SDR", "estimate")
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    alpha = np.dot(estimate, reference) / (np.dot(reference, reference) + _EPS)
    target = alpha * reference
    return _db(np.sum(target**2), np.sum((estimate - target) ** 2))


improvement("si_sdr_i", "si_sdr", description="SI-SNRi: SI-SDR of the estimate minus SI-SDR of the corrupted input")
improvement("snr_i", "snr", description="SNR improvement over the corrupted input")
