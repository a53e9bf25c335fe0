"""Mask-aware metrics for inpainting: the score of the samples (or STFT frames) inside the gaps only.

A whole-clip score of an inpainted clip is mostly the score of the samples the method was given: a 5 ms gap
in 2 s is 0.25 % of the clip, so a whole-clip SI-SNR barely moves with the gap's content (and falls with the
gap's length only through that small share). These variants score what the method had to invent. They read
the observation's known sample mask (``Observation.known["mask"]``: 1 observed, 0 inside the gaps, from
``waveform-gap`` and ``spectral-holes``), which the harness passes to ``evaluate``; without one (another
corruption, ``bench score`` on files) they are undefined.

- ``si_sdr_gap``, ``snr_gap``, ``psnr_gap``: SI-SDR, SNR and PSNR (peak 2) of the gap samples, all gaps of a
  clip together (the definitions of bench.metrics.waveform and bench.metrics.psnr on the concatenated gap
  samples; SI-SDR is zero-mean over them). The corrupted input's gap is silence: its SI-SDR is undefined
  there and its SNR 0 dB.
- ``spectral_snr_gap``: spectral SNR (window 1022, hop 64) over the STFT frames centred inside a gap (so the
  gap's frames number its duration over the hop; a frame overlapping the gap's edge by less than half a
  window counts for the known side, as much of its energy lies there).
- ``envelope_distance_gap``: the RMS Hilbert-envelope distance over the gap samples (envelopes of the whole
  clips, then restricted: the Hilbert transform needs the context).
"""
from __future__ import annotations

import numpy as np
from scipy.signal import hilbert

from bench.metrics import MetricUndefined, metric
from bench.metrics.psnr import psnr
from bench.metrics.spectral import SPECTRAL_SNR_STFT, magnitude
from bench.metrics.waveform import si_sdr, snr

_EPS = 1e-12


def _gap(mask: np.ndarray, name: str) -> np.ndarray:
    gap = ~mask
    if not gap.any():
        raise MetricUndefined(f"{name} is undefined: the observation has no gap")
    return gap


@metric("si_sdr_gap", unit="dB", higher_is_better=True, needs_mask=True)
def si_sdr_gap(reference, estimate, sr, mask):
    """SI-SDR of the samples inside the gaps only (the observation's mask)."""
    gap = _gap(mask, "si_sdr_gap")
    return si_sdr(reference[gap], estimate[gap], sr)


@metric("snr_gap", unit="dB", higher_is_better=True, needs_mask=True)
def snr_gap(reference, estimate, sr, mask):
    """SNR of the samples inside the gaps only (the observation's mask)."""
    gap = _gap(mask, "snr_gap")
    return snr(reference[gap], estimate[gap], sr)


@metric("psnr_gap", unit="dB", higher_is_better=True, needs_mask=True)
def psnr_gap(reference, estimate, sr, mask):
    """PSNR with the fixed peak 2 (psnr_peak2) of the samples inside the gaps only."""
    gap = _gap(mask, "psnr_gap")
    return psnr(reference[gap], estimate[gap], 2.0)


@metric("spectral_snr_gap", unit="dB", higher_is_better=True, needs_mask=True)
def spectral_snr_gap(reference, estimate, sr, mask):
    """Spectral SNR (window 1022, hop 64) over the STFT frames centred inside a gap."""
    gap = _gap(mask, "spectral_snr_gap")
    clean = magnitude(reference, SPECTRAL_SNR_STFT)
    centres = np.arange(clean.shape[1]) * SPECTRAL_SNR_STFT.hop  # centred frames: frame f is centred on f * hop
    frames = np.zeros(clean.shape[1], dtype=bool)
    inside = centres < gap.size
    frames[inside] = gap[centres[inside]]
    if not frames.any():
        raise MetricUndefined("spectral_snr_gap is undefined: no STFT frame is centred in a gap")
    clean = clean[:, frames]
    if not np.any(clean):
        raise MetricUndefined("spectral_snr_gap is undefined for a reference silent in the gaps")
    error = clean - magnitude(estimate, SPECTRAL_SNR_STFT)[:, frames]
    return float(10.0 * np.log10((np.sum(clean**2) + _EPS) / (np.sum(error**2) + _EPS)))


@metric("envelope_distance_gap", unit="", higher_is_better=False, needs_mask=True)
def envelope_distance_gap(reference, estimate, sr, mask):
    """RMS distance between Hilbert envelopes over the samples inside the gaps; lower is better."""
    gap = _gap(mask, "envelope_distance_gap")
    difference = np.abs(hilbert(reference)) - np.abs(hilbert(estimate))
    return float(np.sqrt(np.mean(difference[gap] ** 2)))
