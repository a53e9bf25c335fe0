"""Built-in synthetic corpora: deterministic audio generated from a seed, needing no files.

This module holds the shared base and the speech, piano, drum and noise corpora; the digits and the
singing-voice stems are in synthetic_digits.py and synthetic_singing.py.

They are stand-ins, not substitutes: structured enough that a prior can fit structure before noise
(harmonic sources with moving pitch and formants, decaying inharmonic partials, transients), so the
harness and the papers' phenomena can be exercised anywhere. Tables made from them say so.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from bench.components.dataset import Dataset, dataset, split_parts
from bench.core.audio import Clip
from bench.core.seeds import derive_seed

_SPLITS = {"train": (0, 8_000), "valid": (8_000, 1_000), "test": (9_000, 1_000), "all": (0, 10_000)}


class SyntheticDataset(Dataset):
    """Items "00000".."09999", generated on demand from the item's seed: train 0-7999, valid 8000-8999,
    test 9000-9999 (disjoint, so a trained method never sees its test items), all = every id."""

    synthetic = True
    default_seconds = 1.0
    splits = ("train", "valid", "test")

    def item_ids(self, split=None):
        split = self._check_split(split)
        ranges = [_SPLITS[part] for part in ((split,) if split == "all" else split_parts(split))]
        return [f"{offset + i:05d}" for offset, count in ranges for i in range(count)]

    def load(self, item, *, sr, seconds, rng):
        n = int(round((seconds or self.default_seconds) * sr))
        generated = self.generate(n, sr, rng)
        x, meta = generated if isinstance(generated, tuple) else (generated, {})
        peak = np.max(np.abs(x.sum(axis=0) if x.ndim == 2 else x))
        if peak > 0:
            x = x / peak * rng.uniform(0.5, 0.9)
        return Clip(x.astype(np.float32), sr, dataset=self.name, item=item, meta={"synthetic": True, **meta})

    def generate(self, n: int, sr: int, rng: np.random.Generator) -> np.ndarray | tuple[np.ndarray, dict]:
        """(T,) or (S, T) audio, optionally with metadata for the clip: ``(signal, meta)``."""
        raise NotImplementedError


def cubic(values: np.ndarray, n: int) -> np.ndarray:
    from scipy.interpolate import CubicSpline

    return CubicSpline(np.arange(values.size), values)(np.linspace(0, values.size - 1, n))


def attack_decay(n: int, sr: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(t / max(attack_s, 1e-4), 1.0) * np.exp(-np.maximum(t - attack_s, 0) / decay_s)


def formant_envelope(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of resonances at ``freqs``; formants/bandwidths broadcast against freqs."""
    gain = np.ones_like(freqs)
    for f, b in zip(formants, bandwidths):
        gain = gain * (b**2 / ((freqs - f) ** 2 + b**2) + 0.02)
    return gain


def vocal_tract(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """|H(f)| of an all-pole vocal tract, one resonance (pole pair) per formant: 1 at 0 Hz, about F/B at
    each formant F, falling 12 dB an octave per pole above it. Unlike ``formant_envelope`` (peaks of 1
    over a floor of 0.02, so almost nothing below the first formant) it keeps the pitch's first harmonics,
    where real speech has most of its energy; formants/bandwidths broadcast against freqs."""
    gain = np.ones_like(freqs)
    for f, b in zip(formants, bandwidths):
        gain = gain * f**2 / np.sqrt((f**2 - freqs**2) ** 2 + (freqs * b) ** 2)
    return gain


# How a voice's harmonics are shaped: (the envelope over frequency, the source's slope: amplitude of the
# k-th harmonic is k**-slope). "resonances" is version 1's (a source falling 3 dB an octave); "all-pole" a
# vocal tract of the source-filter model over a source falling 6 dB an octave (the glottal pulse's 12 dB
# less the lips' radiation's 6), whose long-term spectrum is near real speech's: measured on 20 two-second
# clips in bands 0-250 / 250-500 / 500-1k / 1-2k / 2-4k / 4-8 kHz (dB of the total), CMU ARCTIC's female
# slt -3.6 / -6.9 / -5.4 / -13.1 / -19.6 / -20.3, the all-pole female -8.4 / -6.5 / -2.9 / -11.7 / -18.5 /
# -14.1, the resonances female -23.3 / -12.1 / -4.7 / -6.9 / -5.0 / -11.4 (tests/test_data_synthetic.py).
TRACTS = {"resonances": (formant_envelope, 0.5), "all-pole": (vocal_tract, 1.0)}


VOICES = {  # f0 range (Hz) and formant scale of a voice; "any" spans both and keeps version-1 output
    "any": ((90.0, 220.0), 1.0),
    "male": ((85.0, 155.0), 1.0),
    "female": ((165.0, 255.0), 1.17),
}
FORMANT_RANGES = ((300, 850), (850, 2300), (2300, 3200))
BANDWIDTHS = np.array([80.0, 120.0, 180.0])[:, None]


def fricative(length: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A burst of high-passed noise under a Hann window (an /s/- or /f/-like onset)."""
    b, a = sps.butter(4, min(rng.uniform(2500, 4500), 0.45 * sr) / (sr / 2), "high")
    return 0.3 * sps.lfilter(b, a, rng.standard_normal(length)) * np.hanning(length)


def voiced(f0: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int, lowest_f0: float,
           tract: str = "resonances") -> np.ndarray:
    """Harmonics of the pitch track ``f0`` shaped by moving formants ((3, T) tracks) as ``tract`` (a key of
    ``TRACTS``), peak-normalised."""
    envelope, slope = TRACTS[tract]
    phase = 2 * np.pi * np.cumsum(f0) / sr
    out = np.zeros(f0.size)
    for k in range(1, int(0.45 * sr / lowest_f0) + 1):
        fk = k * f0
        amp = envelope(fk, formants, bandwidths) * (fk < 0.45 * sr) / k**slope
        out += amp * np.sin(k * phase)
    return out / (np.max(np.abs(out)) + 1e-9)


def speech_like(n: int, sr: int, rng: np.random.Generator, f0_range=(90.0, 220.0),
                formant_scale: float = 1.0, tract: str = "resonances") -> np.ndarray:
    """Source-filter speech: syllables of harmonics under moving formants (``tract``: see ``TRACTS``),
    fricative noise, pauses."""
    out = np.zeros(n)
    t = 0
    while t < n:
        t += int(rng.uniform(0.02, 0.12) * sr)  # pause
        length = int(rng.uniform(0.12, 0.35) * sr)
        if t >= n:
            break
        length = min(length, n - t)
        seg = np.zeros(length)
        if rng.random() < 0.35:  # fricative onset
            fric = min(length // 3, int(0.08 * sr))
            seg[:fric] += fricative(fric, sr, rng)
        f0 = cubic(rng.uniform(*f0_range, size=4), length)
        formants = np.stack([cubic(rng.uniform(lo, hi, size=3), length)
                             for lo, hi in FORMANT_RANGES]) * formant_scale
        seg += voiced(f0, formants, BANDWIDTHS * formant_scale, sr, f0_range[0], tract) * attack_decay(
            length, sr, 0.02, 0.25)
        out[t:t + length] += seg
        t += length
    return out


@dataset("synthetic-speech", version="1")
class SyntheticSpeech(SyntheticDataset):
    """Speech-like source-filter signals: moving pitch and formants, fricatives, pauses.

    ``voice`` = "any" (default: f0 90-220 Hz), "male" (85-155 Hz) or "female" (165-255 Hz, formants and
    bandwidths 17 % higher): the stand-in for gendered speakers (TIMIT's F/M, LJSpeech's female reader).
    ``speakers``: a name for a set of speakers (e.g. TIMIT's "DR1"): it reseeds every item, so stand-ins of
    disjoint speaker sets share no clip (None: the version-1 output).
    ``tract``: "resonances" (default, version 1's output) or "all-pole", whose long-term spectrum is near
    real speech's (``TRACTS``); TIMIT's stand-in uses it, since a speaker-separation stand-in needs the
    pitch's first harmonics, which the resonances leave 20 dB below real speech.
    """

    kind = "speech"

    def __init__(self, root=None, voice: str = "any", speakers: str | None = None, tract: str = "resonances"):
        if voice not in VOICES:
            raise ValueError(f"synthetic-speech voice must be one of {', '.join(VOICES)}, not {voice!r}")
        if tract not in TRACTS:
            raise ValueError(f"synthetic-speech tract must be one of {', '.join(TRACTS)}, not {tract!r}")
        super().__init__(root, **({"voice": voice} if voice != "any" else {}),
                         **({"speakers": str(speakers)} if speakers is not None else {}),
                         **({"tract": tract} if tract != "resonances" else {}))
        self.voice, self.speakers, self.tract = voice, speakers, tract

    def generate(self, n, sr, rng):
        f0_range, scale = VOICES[self.voice]
        if self.speakers is not None:
            rng = np.random.default_rng([derive_seed("speakers", str(self.speakers)), int(rng.integers(2**63))])
        return speech_like(n, sr, rng, f0_range, scale, self.tract), {"voice": self.voice}


def piano_note(length: int, sr: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """A stiff-string note: partials f_k = k f0 sqrt(1 + B k^2), each decaying faster the higher it is."""
    inharmonicity = rng.uniform(1e-5, 4e-4)
    tt = np.arange(length) / sr
    note = np.zeros(length)
    for k in range(1, 24):
        fk = k * f0 * np.sqrt(1 + inharmonicity * k**2)
        if fk >= 0.45 * sr:
            break
        decay = rng.uniform(0.4, 1.5) / k**0.6
        note += np.exp(-tt / decay) * np.sin(2 * np.pi * fk * tt + rng.uniform(0, 2 * np.pi)) / k
    return note * np.minimum(tt / 0.004, 1.0) * rng.uniform(0.4, 1.0)


def piano_like(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Decaying inharmonic notes at random pitches and onsets, some overlapping."""
    out = np.zeros(n)
    t = 0
    while t < n:
        midi = rng.integers(40, 84)
        out[t:] += piano_note(n - t, sr, 440.0 * 2 ** ((midi - 69) / 12), rng)
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
