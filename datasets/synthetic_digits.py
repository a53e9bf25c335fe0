"""``synthetic-digits``: short spoken-digit-like utterances, the stand-in for SC09.

Each of ten "digits" is a fixed word template (one or two syllables with their own formant targets and
onsets, derived from the digit alone), so items of one digit share structure the way real digits do; an
item draws the digit, a speaker (pitch and vocal-tract scale), a tempo and where the word sits in the
clip, with silence around it as in Speech Commands recordings.
"""
from __future__ import annotations

import numpy as np
from bench.datasets.synthetic import (
    BANDWIDTHS,
    FORMANT_RANGES,
    SyntheticDataset,
    attack_decay,
    cubic,
    fricative,
    voiced,
)

from bench.components.dataset import dataset
from bench.core.seeds import rng_from

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SYLLABLES = (2, 1, 1, 1, 1, 1, 1, 2, 1, 1)  # zero, seven have two


def digit_template(digit: int) -> list[dict]:
    """The fixed syllables of a digit: relative duration, fricative onset, formant targets (3 x 3 points)."""
    rng = rng_from("synthetic-digit-template", digit)
    return [{"duration": rng.uniform(0.18, 0.32) / SYLLABLES[digit] ** 0.3,
             "fricative": bool(rng.random() < 0.4),
             "formants": np.array([rng.uniform(lo, hi, size=3) for lo, hi in FORMANT_RANGES])}
            for _ in range(SYLLABLES[digit])]


def digit_like(n: int, sr: int, rng: np.random.Generator, digit: int) -> np.ndarray:
    f0_base = rng.uniform(85.0, 250.0)
    scale = 1.0 + 0.17 * (f0_base - 85.0) / 165.0  # higher voices have shorter vocal tracts
    tempo = rng.uniform(0.8, 1.25)
    syllables = digit_template(digit)
    lengths = [int(s["duration"] * tempo * sr) for s in syllables]
    gap = int(0.03 * sr)
    word = sum(lengths) + gap * (len(lengths) - 1)
    t = int(rng.uniform(0.05, max(0.05, (n - word) / sr - 0.05)) * sr) if word < n else 0
    out = np.zeros(n)
    for syllable, length in zip(syllables, lengths):
        length = min(length, n - t)
        if length <= 0:
            break
        seg = np.zeros(length)
        if syllable["fricative"]:
            fric = min(length // 3, int(0.08 * sr))
            seg[:fric] += fricative(fric, sr, rng)
        f0 = cubic(f0_base * np.array([1.05, 1.0, 0.92]) * rng.uniform(0.97, 1.03, size=3), length)
        jitter = rng.uniform(0.95, 1.05, size=(3, 1))
        formants = np.stack([cubic(targets, length) for targets in syllable["formants"] * jitter]) * scale
        seg += voiced(f0, formants, BANDWIDTHS * scale, sr, 0.9 * f0_base) * attack_decay(length, sr, 0.02, 0.2)
        out[t:t + length] += seg
        t += length + gap
        if t >= n:
            break
    return out


@dataset("synthetic-digits", version="1")
class SyntheticDigits(SyntheticDataset):
    """Spoken-digit-like words (ten fixed templates, varied speakers and timing) in 1 s clips."""

    kind = "digits"

    def generate(self, n, sr, rng):
        digit = int(rng.integers(10))
        return digit_like(n, sr, rng, digit), {"digit": DIGITS[digit]}
