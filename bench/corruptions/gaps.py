"""Waveform gaps (inpainting task): runs of samples set to zero, with the mask known to the method."""
from __future__ import annotations

import numpy as np

from bench.core.audio import Clip, Observation
from bench.core.parameters import Range
from bench.corruptions import Corruption, corruption


@corruption("waveform-gap", version="1")
class WaveformGap(Corruption):
    """``count`` gaps of ``ms`` milliseconds, zeroed, placed without overlap on non-silent parts of the clip."""

    task = "inpainting"
    parameter_ranges = {"ms": Range(low=0, above=True), "count": Range(low=1)}

    def __init__(self, ms: float = 5.0, count: int = 1, silence_db: float = -40.0):
        super().__init__(ms=ms, count=count, silence_db=silence_db)
        self.ms, self.count, self.silence_db = float(ms), int(count), float(silence_db)

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        x = clip.samples
        if x.ndim != 1:
            raise ValueError(f"waveform-gap corrupts a single signal (T,), got shape {x.shape}")
        if not np.any(x):
            raise ValueError("waveform-gap: the clip is silent, so there is no non-silent part to place a gap on")
        length = int(round(self.ms * 1e-3 * clip.sr))
        if length < 1:
            raise ValueError(f"waveform-gap: {self.ms} ms is less than one sample at {clip.sr} Hz")
        starts = _place_gaps(x, length, self.count, self.silence_db, rng)
        mask = np.ones_like(x, dtype=np.float32)
        for s in starts:
            mask[s:s + length] = 0.0
        return Observation(x * mask, clip.sr, self.task, known={"mask": mask}, reference=x,
                           info={"gap_starts": [int(s) for s in starts], "gap_samples": length})


def _place_gaps(x: np.ndarray, length: int, count: int, silence_db: float, rng) -> list[int]:
    """Gap starts whose windows are louder than ``silence_db`` relative to the clip's peak RMS."""
    if length * count >= x.size:
        raise ValueError(f"{count} gaps of {length} samples do not fit in a clip of {x.size} samples")
    window_energy = np.convolve(x.astype(np.float64) ** 2, np.ones(length), mode="valid") / length
    loud = window_energy >= window_energy.max() * 10 ** (silence_db / 10)
    candidates = np.flatnonzero(loud)
    starts: list[int] = []
    for _ in range(count):
        free = candidates[[all(abs(c - s) >= length for s in starts) for c in candidates]]
        if free.size == 0:
            raise ValueError("no room left on non-silent parts of the clip for another gap")
        starts.append(int(rng.choice(free)))
    return sorted(starts)
