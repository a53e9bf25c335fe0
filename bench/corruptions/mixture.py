"""Mixtures of sources at a level ratio (separation task), with every rescaled source kept as a reference.

The clean clip is a set of sources (S, T), S >= 2 (the ``stack`` dataset or MUSDB stems give one). Source 1
keeps its level; every other source k is scaled so that 10 log10(|s_1|^2 / |s_k|^2) = ``ratio_db`` (0 dB:
equal energies). The observation is the sum (T,); the reference is the rescaled sources (S, T), so the
mixture is exactly the sum of the references; ``known["num_sources"]`` = S. Nothing is random: the seed
does not change a mixture.

``natural_levels = true`` keeps the sources as the corpus gives them (a real song's mixture; ``ratio_db`` is
then not used), and ``oracle = true`` makes the sources known to the method (``known["sources"]``, the
references) for informed separation such as an oracle binary mask. Both are recorded in the parameters
only when set, so the keys of existing suites do not change.
"""
from __future__ import annotations

import numpy as np

from bench.core.audio import Clip, Observation
from bench.corruptions import Corruption, corruption


@corruption("mixture", version="1")
class Mixture(Corruption):
    """The sum of S stacked sources, each source after the first scaled to ``ratio_db`` dB below source 1."""

    task = "separation"

    def __init__(self, ratio_db: float = 0.0, natural_levels: bool = False, oracle: bool = False):
        options = {k: True for k, v in (("natural_levels", natural_levels), ("oracle", oracle)) if v}
        super().__init__(ratio_db=ratio_db, **options)
        self.ratio_db = float(ratio_db)
        self.natural_levels, self.oracle = bool(natural_levels), bool(oracle)

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        sources = clip.samples.astype(np.float64)
        if sources.ndim != 2 or sources.shape[0] < 2:
            raise ValueError(f"mixture needs a clip of at least two stacked sources (S, T), got shape "
                             f"{clip.samples.shape}; use a multi-source dataset such as `stack` or MUSDB stems")
        energy = np.sum(sources**2, axis=1)
        if self.natural_levels:
            return self._observe(sources, clip, np.ones(len(sources)))
        silent = [k + 1 for k in np.flatnonzero(energy == 0)]
        if silent:
            raise ValueError(f"mixture: source {silent} of {clip.dataset} item {clip.item} is silent, "
                             "so no level ratio can be set")
        gains = np.sqrt(energy[0] / (energy * 10 ** (self.ratio_db / 10)))
        gains[0] = 1.0
        return self._observe(sources, clip, gains)

    def _observe(self, sources: np.ndarray, clip: Clip, gains: np.ndarray) -> Observation:
        references = sources * gains[:, None]
        scaled = np.sum(references**2, axis=1)
        info = {"gains": gains.tolist(),
                "ratio_db": [float(10 * np.log10(scaled[0] / e)) if scaled[0] > 0 and e > 0 else None
                             for e in scaled[1:]],
                "mixture_peak": float(np.max(np.abs(references.sum(axis=0))))}
        known = {"num_sources": int(sources.shape[0])}
        if self.oracle:
            known["sources"] = references.astype(np.float32)
        return Observation(references.sum(axis=0), clip.sr, self.task, known=known,
                           reference=references.astype(np.float32), info=info)
