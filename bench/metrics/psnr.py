"""Peak signal-to-noise ratio of a waveform, in the two variants the waveform-prior paper needs.

PSNR = 10 log10(peak^2 / MSE), MSE the mean squared error over samples. The variants differ in the peak:

- ``psnr_peak2``: the fixed peak 2, the full range of [-1, 1] audio. This is what the waveform-prior code
  (Turetzky et al., utils/metrics.py) computes: 20 log10(2) - 10 log10(MSE). Its tables use this one.
- ``psnr_maxmin``: the peak is max - min of the clean signal, the definition in that paper's text (Eq. 2).

The spectral-prior paper (Narayanaswamy et al. 2021) labels a column "PSNR" without defining it. Its only
released evaluation code (designaudiopriors/denoising/script.py) tracks the plain waveform SNR against the
clean signal, 10 log10(sum s^2 / sum (s - s_hat)^2), on the estimate clipped to [-1, 1], and keeps the best
iterate by that number; the published values (6.9 to 12.5 dB for Gaussian noise of std 0.1, where the
noisy input of a CMU ARCTIC sentence is at -1 dB SNR and 26 dB psnr_peak2) fit that SNR and not a peak
ratio. Suites reproducing that paper therefore use ``snr`` (bench.metrics.waveform) for its "PSNR"
column, and say so in their labels.
"""
from __future__ import annotations

import numpy as np

from bench.metrics import improvement, metric, require_variation

_EPS = 1e-12  # keeps a perfect estimate finite (about 126 dB above a unit peak), as ``snr`` does


def psnr(reference: np.ndarray, estimate: np.ndarray, peak: float) -> float:
    mse = float(np.mean((reference - estimate) ** 2))
    return float(10.0 * np.log10((peak**2 + _EPS) / (mse + _EPS)))


@metric("psnr_peak2", unit="dB", higher_is_better=True)
def psnr_peak2(reference, estimate, sr):
    """PSNR with the fixed peak 2 of [-1, 1] audio: 20 log10(2) - 10 log10(MSE) (the waveform-prior code)."""
    return psnr(reference, estimate, 2.0)


@metric("psnr_maxmin", unit="dB", higher_is_better=True)
def psnr_maxmin(reference, estimate, sr):
    """PSNR with the peak max - min of the clean signal (the waveform-prior paper's text)."""
    require_variation(reference, "psnr_maxmin", "reference")  # no peak: the ratio is 0 / MSE
    return psnr(reference, estimate, float(np.max(reference) - np.min(reference)))


improvement("psnr_i", "psnr_peak2",
            description="PSNRi: psnr_peak2 of the estimate minus psnr_peak2 of the corrupted input")
improvement("psnr_maxmin_i", "psnr_maxmin",
            description="psnr_maxmin of the estimate minus psnr_maxmin of the corrupted input")
