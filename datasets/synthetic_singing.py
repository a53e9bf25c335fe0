"""``synthetic-singing``: a singing voice and its accompaniment as stems, the stand-in for MUSDB18.

A clip is (2, T): sources [vocals, accompaniment] (``meta["sources"]``). The voice sings legato notes of
a scale with portamento and vibrato on held vowels; the accompaniment plays the same key: piano chords,
a plucked bass line and a drum pattern. Their level ratio varies by item (-6 to +3 dB, vocals to
accompaniment), and the pair is scaled together.
"""
from __future__ import annotations

import numpy as np
from bench.datasets.synthetic import SyntheticDataset, drums_like, formant_envelope, piano_note

from bench.components.dataset import dataset

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
VOWELS = np.array([[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410],
                   [300, 870, 2240]], dtype=float)  # a, e, i, o, u (adult male formants, Hz)


def _hz(midi):
    return 440.0 * 2 ** ((np.asarray(midi, dtype=float) - 69) / 12)


def singing_like(n: int, sr: int, rng: np.random.Generator, key: int) -> np.ndarray:
    """Legato sung notes: portamento between pitches, delayed vibrato, a vowel held per note."""
    female = rng.random() < 0.5
    base = key + (60 if female else 48)
    scale = 1.15 if female else 1.0
    midi, formants, gate = np.zeros(n), np.zeros((3, n)), np.zeros(n)
    t, degree, previous = 0, int(rng.integers(0, 7)), None
    while t < n:
        length = min(int(rng.uniform(0.25, 0.8) * sr), n - t)
        if rng.random() < 0.15 and previous is not None:  # a breath
            t += length // 2
            previous = None
            continue
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 9))
        target = base + MAJOR[degree % 7] + 12 * (degree // 7)
        start = previous if previous is not None else target
        glide = np.minimum(np.arange(length) / (0.04 * sr), 1.0)
        vibrato = 0.4 * np.sin(2 * np.pi * rng.uniform(5.0, 6.5) * np.arange(length) / sr) \
            * np.clip((np.arange(length) / sr - 0.15) / 0.2, 0, 1)
        midi[t:t + length] = start + (target - start) * glide + vibrato
        formants[:, t:t + length] = (VOWELS[rng.integers(len(VOWELS))] * scale)[:, None]
        gate[t:t + length] = np.minimum(np.arange(length) / (0.03 * sr), 1.0) \
            * np.minimum((length - np.arange(length)) / (0.06 * sr), 1.0)
        previous = target
        t += length
    f0 = _hz(np.where(gate > 0, midi, base))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    bandwidths = np.array([90.0, 110.0, 160.0])[:, None] * scale
    out = np.zeros(n)
    for k in range(1, int(0.45 * sr / f0.min()) + 1):
        fk = k * f0
        out += formant_envelope(fk, formants, bandwidths) * (fk < 0.45 * sr) / k * np.sin(k * phase)
    out /= np.max(np.abs(out)) + 1e-9
    return (out + 0.01 * rng.standard_normal(n)) * gate  # a little breath noise


def accompaniment_like(n: int, sr: int, rng: np.random.Generator, key: int) -> np.ndarray:
    """Piano chords (I, IV, V, vi of the key), a plucked bass on the chord root, and drums."""
    bar = int(rng.uniform(1.6, 2.4) * sr)
    chords, bass = np.zeros(n), np.zeros(n)
    tt = np.arange(bar) / sr
    for start in range(0, n, bar):
        root = int(rng.choice([0, 5, 7, 9]))
        third = 3 if root == 9 else 4
        length = min(bar, n - start)
        for interval in (0, third, 7):
            chords[start:start + length] += piano_note(length, sr, float(_hz(key + 48 + root + interval)), rng)
        f_bass = float(_hz(key + 36 + root))
        pluck = sum(np.sin(2 * np.pi * h * f_bass * tt) / h**1.5 for h in (1, 2, 3)) * np.exp(-tt / 0.5)
        for beat in (0, bar // 2):
            piece = pluck[: max(0, min(bar - beat, n - start - beat))]
            bass[start + beat:start + beat + piece.size] += piece
    drums = drums_like(n, sr, rng)
    parts = [p / (np.std(p) + 1e-9) for p in (chords, bass, drums)]
    return 0.5 * parts[0] + 0.35 * parts[1] + 0.4 * parts[2]


STEMS = ("vocals", "accompaniment", "mixture")


@dataset("synthetic-singing", version="1")
class SyntheticSinging(SyntheticDataset):
    """Singing voice plus accompaniment as (2, T) stems [vocals, accompaniment] in one key.

    ``sources=[...]`` picks others among vocals, accompaniment and mixture, as MUSDB18's loader does (one
    source gives a (T,) clip: ``sources=["vocals"]`` is the singing of the waveform-prior tables)."""

    kind = "music-stems"

    def __init__(self, root=None, sources=None):
        chosen = tuple(sources) if sources else ("vocals", "accompaniment")
        unknown = sorted(set(chosen) - set(STEMS))
        if unknown or not chosen:
            raise ValueError(f"synthetic-singing sources must be among {', '.join(STEMS)}, not {unknown}")
        super().__init__(root, **({"sources": list(chosen)} if sources else {}))
        self.sources = chosen

    def generate(self, n, sr, rng):
        key = int(rng.integers(0, 12))
        vocals, accompaniment = singing_like(n, sr, rng, key), accompaniment_like(n, sr, rng, key)
        ratio_db = rng.uniform(-6.0, 3.0)
        vocals *= np.std(accompaniment) / (np.std(vocals) + 1e-9) * 10 ** (ratio_db / 20)
        stems = {"vocals": vocals, "accompaniment": accompaniment, "mixture": vocals + accompaniment}
        signal = np.stack([stems[s] for s in self.sources])
        return signal[0] if len(self.sources) == 1 else signal, {"sources": list(self.sources),
                                                                  "vocals_to_accompaniment_db": ratio_db}
