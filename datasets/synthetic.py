"""Built-in synthetic corpora: deterministic audio generated from a seed, needing no files.

They are stand-ins, not substitutes: structured enough that a prior can fit structure before noise
(harmonic sources with moving pitch and formants, decaying inharmonic partials, transients), so the
harness and the papers' phenomena can be exercised anywhere. Tables made from them say so.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from bench.audio import Clip
from bench.dataset import Dataset, dataset

_NUM_ITEMS = 10_000  # item ids "00000".."09999"; each is generated on demand


class SyntheticDataset(Dataset):
    synthetic = True
    default_seconds = 1.0

    def item_ids(self, split=None):
        # Disjoint id ranges per split, so a trained method never sees its test items.
        offset = {"train": 0, "valid": 8_000, "test": 9_000}.get(split or self.default_split, 9_000)
        count = {"train": 8_000, "valid": 1_000}.get(split or self.default_split, 1_000)
        return [f"{offset + i:05d}" for i in range(count)]

    def load(self, item, *, sr, seconds, rng):
        n = int(round((seconds or self.default_seconds) * sr))
        x = self.generate(n, sr, rng)
        peak = np.max(np.abs(x))
        if peak > 0:
            x = x / peak * rng.uniform(0.5, 0.9)
        return Clip(x.astype(np.float32), sr, dataset=self.registered_name, item=item,
                    meta={"synthetic": True})

    def generate(self, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


def _cubic(values: np.ndarray, n: int) -> np.ndarray:
    from scipy.interpolate import CubicSpline

    return CubicSpline(np.arange(values.size), values)(np.linspace(0, values.size - 1, n))


def _attack_decay(n: int, sr: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(t / max(attack_s, 1e-4), 1.0) * np.exp(-np.maximum(t - attack_s, 0) / decay_s)


def formant_envelope(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of resonances at ``freqs``; formants/bandwidths broadcast against freqs."""
    gain = np.ones_like(freqs)
    for f, b in zip(formants, bandwidths):
        gain = gain * (b**2 / ((freqs - f) ** 2 + b**2) + 0.02)
    return gain


def speech_like(n: int, sr: int, rng: np.random.Generator, f0_range=(90.0, 220.0)) -> np.ndarray:
    """Source-filter speech: syllables of harmonics under moving formants, fricative noise, pauses."""
    out = np.zeros(n)
    t = 0
    while t < n:
        t += int(rng.uniform(0.02, 0.12) * sr)  # pause
        length = int(rng.uniform(0.12, 0.35) * sr)
        if t >= n:
            break
        length = min(length, n - t)
        seg = np.zeros(length)
        if rng.random() < 0.35:  # fricative onset: shaped high-passed noise
            fric = min(length // 3, int(0.08 * sr))
            b, a = sps.butter(4, min(rng.uniform(2500, 4500), 0.45 * sr) / (sr / 2), "high")
            seg[:fric] += 0.3 * sps.lfilter(b, a, rng.standard_normal(fric)) * np.hanning(fric)
        f0 = _cubic(rng.uniform(*f0_range, size=4), length)
        phase = 2 * np.pi * np.cumsum(f0) / sr
        formants = np.stack([_cubic(rng.uniform(lo, hi, size=3), length)
                             for lo, hi in ((300, 850), (850, 2300), (2300, 3200))])
        bandwidths = np.array([80.0, 120.0, 180.0])[:, None]
        voiced = np.zeros(length)
        for k in range(1, int(0.45 * sr / f0_range[0]) + 1):
            fk = k * f0
            amp = formant_envelope(fk, formants, bandwidths) * (fk < 0.45 * sr) / k**0.5
            voiced += amp * np.sin(k * phase)
        seg += voiced / (np.max(np.abs(voiced)) + 1e-9) * _attack_decay(length, sr, 0.02, 0.25)
        out[t:t + length] += seg
        t += length
    return out


@dataset("synthetic-speech", version="1")
class SyntheticSpeech(SyntheticDataset):
    """Speech-like source-filter signals: moving pitch and formants, fricatives, pauses."""

    kind = "speech"

    def generate(self, n, sr, rng):
        return speech_like(n, sr, rng)


def piano_like(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Decaying inharmonic notes (stiff-string partials f_k = k f0 sqrt(1 + B k^2)), some overlapping."""
    out = np.zeros(n)
    t = 0
    while t < n:
        midi = rng.integers(40, 84)
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        inharmonicity = rng.uniform(1e-5, 4e-4)
        length = n - t
        tt = np.arange(length) / sr
        note = np.zeros(length)
        for k in range(1, 24):
            fk = k * f0 * np.sqrt(1 + inharmonicity * k**2)
            if fk >= 0.45 * sr:
                break
            decay = rng.uniform(0.4, 1.5) / k**0.6
            note += np.exp(-tt / decay) * np.sin(2 * np.pi * fk * tt + rng.uniform(0, 2 * np.pi)) / k
        note *= np.minimum(tt / 0.004, 1.0) * rng.uniform(0.4, 1.0)
        out[t:] += note
        t += int(rng.uniform(0.15, 0.5) * sr)
    return out


@dataset("synthetic-piano", version="1")
class SyntheticPiano(SyntheticDataset):
    """Piano-like notes: inharmonic partials with frequency-dependent exponential decay."""

    kind = "piano"

    def generate(self, n, sr, rng):
        return piano_like(n, sr, rng)


def drum_hit(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    length = int(0.4 * sr)
    tt = np.arange(length) / sr
    if kind == "kick":
        f = rng.uniform(45, 65) + rng.uniform(80, 150) * np.exp(-tt / 0.03)
        return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tt / rng.uniform(0.08, 0.2))
    noise = rng.standard_normal(length)
    if kind == "snare":
        b, a = sps.butter(2, [min(1500, 0.4 * sr) / (sr / 2), min(6000, 0.45 * sr) / (sr / 2)], "band")
        body = 0.6 * np.sin(2 * np.pi * rng.uniform(170, 220) * tt) * np.exp(-tt / 0.05)
        return body + sps.lfilter(b, a, noise) * np.exp(-tt / rng.uniform(0.06, 0.15))
    b, a = sps.butter(4, min(rng.uniform(5000, 8000), 0.45 * sr) / (sr / 2), "high")  # hi-hat
    return 0.6 * sps.lfilter(b, a, noise) * np.exp(-tt / rng.uniform(0.02, 0.08))


def drums_like(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Kick, snare and hi-hat hits on a jittered grid at a random tempo."""
    out = np.zeros(n + int(0.4 * sr))
    step = int(60.0 / rng.uniform(80, 160) / 2 * sr)  # eighth notes
    pattern = rng.choice(["kick", "snare", "hat", "hat", "rest"], size=max(1, n // step + 1))
    for i, kind in enumerate(pattern):
        if kind == "rest":
            continue
        start = max(0, i * step + int(rng.normal(0, 0.004) * sr))
        hit = drum_hit(kind, sr, rng) * rng.uniform(0.5, 1.0)
        out[start:start + hit.size] += hit[: out.size - start]
    return out[:n]


@dataset("synthetic-drums", version="1")
class SyntheticDrums(SyntheticDataset):
    """Drum-like one-shots (pitched-down sine kicks, noisy snares, hi-hats) on a rhythmic grid."""

    kind = "drums"

    def generate(self, n, sr, rng):
        return drums_like(n, sr, rng)


def environmental_noise(n: int, sr: int, rng: np.random.Generator, scene: str) -> np.ndarray:
    """Coloured, modulated noise: 'living' (hum, clatter, room tone) or 'traffic' (rumble, passing cars)."""
    white = rng.standard_normal(n)
    if scene == "traffic":
        b, a = sps.butter(2, 400 / (sr / 2), "low")
        rumble = sps.lfilter(b, a, white)
        passes = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * np.arange(n) / sr + rng.uniform(0, 6.3))
        return rumble / rumble.std() * passes + 0.1 * white
    pink = sps.lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                       [1, -2.494956002, 2.017265875, -0.522189400], white)
    hum = sum(np.sin(2 * np.pi * 50 * k * np.arange(n) / sr + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    clatter = np.zeros(n)
    for start in rng.integers(0, n, size=rng.integers(1, 5)):
        hit = drum_hit("hat", sr, rng)[: n - start]
        clatter[start:start + hit.size] += hit
    return pink / pink.std() + 0.05 * hum + 0.5 * clatter


@dataset("synthetic-noise", version="1")
class SyntheticNoise(SyntheticDataset):
    """Environmental-like noise scenes; ``scene`` = 'living' (default) or 'traffic'."""

    kind = "noise"

    def __init__(self, root=None, scene: str = "living"):
        if scene not in ("living", "traffic"):
            raise ValueError(f"synthetic-noise scene must be 'living' or 'traffic', not {scene!r}")
        super().__init__(root, scene=scene)
        self.scene = scene

    def generate(self, n, sr, rng):
        return environmental_noise(n, sr, rng, self.scene)
