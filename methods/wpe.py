"""Weighted prediction error dereverberation (Nakatani et al. 2010), the classical no-learning baseline.

The late reverberation of each STFT bin is predicted from the frames ``delay`` and more before it by a
linear filter of ``taps`` frames, estimated by iteratively reweighted least squares with the power of the
current estimate as the weight, and subtracted. The implementation is nara_wpe's (Drude et al. 2018, the
maintained reference package), single-channel; STFT of 512 samples with hop 128 at 16 kHz as in its
examples.
"""
from __future__ import annotations

import numpy as np

from bench.components.method import Method, method
from bench.core.audio import Estimate


@method("wpe", version="1")
class WeightedPredictionError(Method):
    """Single-channel WPE (nara_wpe): taps, delay and iterations of the linear prediction in STFT frames."""

    tasks = ("dereverberation",)

    def __init__(self, taps: int = 10, delay: int = 3, iterations: int = 3, n_fft: int = 512, hop: int = 128):
        super().__init__(taps=taps, delay=delay, iterations=iterations, n_fft=n_fft, hop=hop)
        self.taps, self.delay, self.iterations = int(taps), int(delay), int(iterations)
        self.n_fft, self.hop = int(n_fft), int(hop)

    def restore(self, observation, context):
        from nara_wpe.utils import istft, stft
        from nara_wpe.wpe import wpe

        x = observation.signal.astype(np.float64)
        spectrum = stft(x[None], size=self.n_fft, shift=self.hop).transpose(2, 0, 1)  # (bins, 1, frames)
        dry = wpe(spectrum, taps=self.taps, delay=self.delay, iterations=self.iterations, statistics_mode="full")
        y = istft(dry.transpose(1, 2, 0), size=self.n_fft, shift=self.hop)[0]
        y = y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))
        return Estimate(y.astype(np.float32), info={"removed_energy_ratio": float(1 - np.sum(y**2) / np.sum(x**2))})
