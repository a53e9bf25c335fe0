"""Metrics on STFT magnitudes: spectral SNR (the spectral-prior paper's inpainting and separation metric) and
log-spectral distance.

Both use the project's one STFT (bench.core.stft.SpectralFrame: periodic Hann window of n_fft samples, centred
frames with zero padding) without the U-Net's padding of the frame count (``frame_multiple=1``).

Spectral SNR = 10 log10( sum |S|^2 / sum (|S| - |S_hat|)^2 ) over all bins and frames, S the clean and
S_hat the estimate's STFT: an SNR between magnitude spectrograms, so it ignores phase. Narayanaswamy et al.
cite Spiertz and Gnann (2009) and Virtanen (2003) for it and released no code; this is the definition of
those references. The STFT is the paper's own (window 1022, hop 64 at 16 kHz, its pre-processing section).

Log-spectral distance (dB) = mean over frames of sqrt( mean over bins of (10 log10 P - 10 log10 P_hat)^2 ),
P = |S|^2 + 1e-10, with a 2048-sample window and hop 512. It is the classic dB form; the bandwidth-extension
literature's unitless form (log10 of the power, without the factor 10) is this value divided by 10.
"""
from __future__ import annotations

import numpy as np
import torch

from bench.core.stft import SpectralFrame
from bench.metrics import metric, require_sound

SPECTRAL_SNR_STFT = SpectralFrame(n_fft=1022, hop=64, frame_multiple=1)
LSD_STFT = SpectralFrame(n_fft=2048, hop=512, frame_multiple=1)
_EPS = 1e-12
_POWER_FLOOR = 1e-10  # -100 dB: keeps log10 finite on digital silence


def magnitude(signal: np.ndarray, frame: SpectralFrame) -> np.ndarray:
    """|STFT| of a waveform (T,), shape (bins, frames), float64."""
    spec = frame.analyse(torch.from_numpy(np.asarray(signal, dtype=np.float64))).numpy()
    return np.hypot(spec[0], spec[1])


@metric("spectral_snr", unit="dB", higher_is_better=True)
def spectral_snr(reference, estimate, sr):
    """SNR between magnitude spectrograms (window 1022, hop 64): 10 log10(sum|S|^2 / sum(|S|-|S_hat|)^2)."""
    require_sound(reference, "spectral SNR", "reference")
    clean = magnitude(reference, SPECTRAL_SNR_STFT)
    error = clean - magnitude(estimate, SPECTRAL_SNR_STFT)
    return float(10.0 * np.log10((np.sum(clean**2) + _EPS) / (np.sum(error**2) + _EPS)))


@metric("lsd", unit="dB", higher_is_better=False)
def lsd(reference, estimate, sr):
    """Log-spectral distance in dB (window 2048, hop 512): frame mean of the bin-RMS of the dB power difference."""
    clean = 10.0 * np.log10(magnitude(reference, LSD_STFT) ** 2 + _POWER_FLOOR)
    other = 10.0 * np.log10(magnitude(estimate, LSD_STFT) ** 2 + _POWER_FLOOR)
    return float(np.mean(np.sqrt(np.mean((clean - other) ** 2, axis=0))))
