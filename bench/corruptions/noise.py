"""Additive noise corruptions (denoising task)."""
from __future__ import annotations

import numpy as np

from bench.audio import Clip, Observation
from bench.corruptions import Corruption, corruption


@corruption("gaussian-noise", version="1")
class GaussianNoise(Corruption):
    """Additive white Gaussian noise with a standard deviation ``std`` or at a target ``snr`` (dB)."""

    task = "denoising"

    def __init__(self, std: float | None = None, snr: float | None = None):
        if (std is None) == (snr is None):
            raise ValueError("gaussian-noise takes exactly one of std= or snr=")
        super().__init__(std=std, snr=snr)
        self.std, self.snr = std, snr

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        clean = clip.samples.astype(np.float64)
        noise = rng.standard_normal(clean.shape)
        if self.std is not None:
            noise *= self.std
        else:
            noise *= np.sqrt(np.sum(clean**2) / (np.sum(noise**2) * 10 ** (self.snr / 10)))
        realised = 10 * np.log10(np.sum(clean**2) / np.sum(noise**2))
        return Observation(clean + noise, clip.sr, self.task, reference=clip.samples,
                           info={"snr_db": float(realised), "noise_std": float(noise.std())})
