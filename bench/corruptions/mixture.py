"""Mixtures of sources at a level ratio (separation task), with every rescaled source kept as a reference.

The clean clip is a set of sources (S, T), S >= 2 (the ``stack`` dataset or MUSDB stems give one). Source 1
keeps its level; every other source k is scaled so that 10 log10(|s_1|^2 / |s_k|^2) = ``ratio_db`` (0 dB:
equal energies). The observation is the sum (T,); the reference is the rescaled sources (S, T), so the
mixture is exactly the sum of the references; ``known["num_sources"]`` = S. Nothing is random: the seed
does not change a mixture.
"""
from __future__ import annotations

import numpy as np

from bench.audio import Clip, Observation
from bench.corruptions import Corruption, corruption


@corruption("mixture", version="1")
class Mixture(Corruption):
    """The sum of S stacked sources, each source after the first scaled to ``ratio_db`` dB below source 1."""

    task = "separation"

    def __init__(self, ratio_db: float = 0.0):
        super().__init__(ratio_db=ratio_db)
        self.ratio_db = float(ratio_db)

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        sources = clip.samples.astype(np.float64)
        if sources.ndim != 2 or sources.shape[0] < 2:
            raise ValueError(f"mixture needs a clip of at least two stacked sources (S, T), got shape "
                             f"{clip.samples.shape}; use a multi-source dataset such as `stack` or MUSDB stems")
        energy = np.sum(sources**2, axis=1)
        silent = [k + 1 for k in np.flatnonzero(energy == 0)]
        if silent:
            raise ValueError(f"mixture: source {silent} of {clip.dataset} item {clip.item} is silent, "
                             "so no level ratio can be set")
        gains = np.sqrt(energy[0] / (energy * 10 ** (self.ratio_db / 10)))
        gains[0] = 1.0
        references = sources * gains[:, None]
        scaled = np.sum(references**2, axis=1)
        info = {"gains": gains.tolist(),
                "ratio_db": [float(10 * np.log10(scaled[0] / e)) for e in scaled[1:]],
                "mixture_peak": float(np.max(np.abs(references.sum(axis=0))))}
        return Observation(references.sum(axis=0), clip.sr, self.task, known={"num_sources": int(sources.shape[0])},
                           reference=references.astype(np.float32), info=info)
