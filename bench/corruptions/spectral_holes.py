"""Spectral inpainting: time spans in which every frequency is zeroed, with the mask known to the method.

Narayanaswamy et al. zero "masks of duration varying between 0.1 s and 0.25 s, such that all frequency
components within the mask are zeroed out". Here ``count`` spans, each of a duration drawn uniformly in
[``min_s``, ``max_s``] and rounded to whole samples, are placed uniformly at random without overlap, and
the samples inside them are set to zero. The method is told both forms of the mask:

- ``known["mask"]``: (T,) float32, 1 on observed samples, 0 inside the holes (for waveform methods);
- ``known["frame_mask"]``: one value per STFT frame of the project's STFT (bench.core.stft.SpectralFrame with
  ``n_fft`` and ``hop``, frame count padded to a multiple of 4 as the spectral U-Nets use it): 1 for frames
  whose window touches no zeroed sample, 0 otherwise, over all frequencies; ``known["stft"]`` gives the
  parameters. On the frames marked 1 the STFT of the observation equals the STFT of the clean signal
  exactly, so a masked loss sees no corrupted value; the frame holes are longer than the sample holes by
  about one window.

Defaults: one hole per clip (the paper does not say how many), the paper's STFT (window 1022, hop 64).
"""
from __future__ import annotations

import numpy as np

from bench.core.audio import Clip, Observation
from bench.core.stft import SpectralFrame
from bench.corruptions import Corruption, corruption

PLACEMENT_ATTEMPTS = 10_000


def place_spans(lengths: list[int], total: int, rng: np.random.Generator) -> list[int]:
    """Starts for non-overlapping spans of the given lengths, each uniformly placed in [0, total)."""
    if sum(lengths) > total:
        raise ValueError(f"spans of {sum(lengths)} samples in all do not fit in a clip of {total} samples")
    starts: list[int] = []
    for length in lengths:
        for _ in range(PLACEMENT_ATTEMPTS):
            start = int(rng.integers(0, total - length + 1))
            if all(start + length <= s or s + other <= start for s, other in zip(starts, lengths)):
                starts.append(start)
                break
        else:
            raise ValueError(f"could not place {len(lengths)} non-overlapping spans in {total} samples")
    return starts


@corruption("spectral-holes", version="1")
class SpectralHoles(Corruption):
    """``count`` spans of ``min_s`` to ``max_s`` s zeroed at all frequencies; sample and STFT-frame masks known."""

    task = "inpainting"

    def __init__(self, count: int = 1, min_s: float = 0.1, max_s: float = 0.25, n_fft: int = 1022, hop: int = 64):
        if not 0 < min_s <= max_s:
            raise ValueError(f"spectral-holes: need 0 < min_s <= max_s, got {min_s} and {max_s}")
        if int(count) < 1:
            raise ValueError(f"spectral-holes: count must be at least 1, got {count}")
        super().__init__(count=count, min_s=min_s, max_s=max_s, n_fft=n_fft, hop=hop)
        self.count, self.min_s, self.max_s = int(count), float(min_s), float(max_s)
        self.frame = SpectralFrame(n_fft=int(n_fft), hop=int(hop))

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        x = clip.samples
        if x.ndim != 1:
            raise ValueError(f"spectral-holes corrupts a single signal (T,), got shape {x.shape}")
        lengths = [int(round(rng.uniform(self.min_s, self.max_s) * clip.sr)) for _ in range(self.count)]
        starts = place_spans(lengths, x.size, rng)
        mask = np.ones(x.size, dtype=np.float32)
        for start, length in zip(starts, lengths):
            mask[start:start + length] = 0.0
        order = np.argsort(starts)
        frame = self.frame
        known = {"mask": mask, "frame_mask": frame.frame_mask(mask),
                 "stft": {"n_fft": frame.n_fft, "hop": frame.hop, "window": "hann (periodic)", "center": True,
                          "pad": "zeros", "frame_multiple": frame.frame_multiple}}
        info = {"hole_starts": [starts[i] for i in order], "hole_samples": [lengths[i] for i in order],
                "hole_seconds": [lengths[i] / clip.sr for i in order],
                "masked_frames": int(np.sum(known["frame_mask"] == 0))}
        return Observation(x * mask, clip.sr, self.task, known=known, reference=x, info=info)
