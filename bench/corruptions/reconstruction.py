"""Reconstruction (auto-encoding): the observation is one clean source itself, and so is the reference.

A learned representation's decoder is scored by how well Dec(Enc(x)) gives x back (Mimilakis et al.,
Table 1). ``source`` picks the source of a multi-source clip, counted from 1 as the mixture corruption
counts them (1: the vocals of MUSDB18 stems); a single-source clip is taken whole. Nothing is random.
"""
from __future__ import annotations

import numpy as np

from bench.core.audio import Clip, Observation
from bench.corruptions import Corruption, corruption


@corruption("source-reconstruction", version="1")
class SourceReconstruction(Corruption):
    """Observation = reference = source ``source`` (from 1) of the clean clip: the auto-encoding task."""

    task = "reconstruction"

    def __init__(self, source: int = 1):
        if source < 1:
            raise ValueError(f"source-reconstruction: source counts from 1, not {source}")
        super().__init__(source=source)
        self.source = int(source)

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        samples = np.asarray(clip.samples, dtype=np.float32)
        if samples.ndim == 2:
            if self.source > samples.shape[0]:
                raise ValueError(f"source-reconstruction: source {self.source} asked for, but {clip.dataset} item "
                                 f"{clip.item} has {samples.shape[0]} sources")
            samples = samples[self.source - 1]
        elif self.source != 1:
            raise ValueError(f"source-reconstruction: source {self.source} of a single-source clip")
        return Observation(samples, clip.sr, self.task, reference=samples.copy(),
                           info={"norm": float(np.linalg.norm(samples))})
