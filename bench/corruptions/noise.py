"""Additive noise corruptions (denoising task): white Gaussian or uniform noise at a level, SNR or SI-SNR.

The noise is scaled so that the realised ratio is the target exactly (to float32 rounding of the output):

- ``snr``: 10 log10(|s|^2 / |n|^2) = target.
- ``si_snr``: the SI-SNR of the noisy signal against the clean one (zero-mean, as bench.metrics' si_sdr)
  = target. The part of the noise that happens to correlate with the signal counts as signal in SI-SNR,
  so the gain g solves |s|^2 (1 + g a)^2 / (g^2 |n_perp|^2) = 10^(target/10), a = <n, s>/|s|^2 and n_perp
  the noise without its projection on s (all zero-mean); the positive root is g = 1 / (sqrt(r) c - a),
  r = 10^(target/10), c = |n_perp| / |s|.

The waveform-prior paper mixes with the DNS-Challenge recipe, which afterwards rescales clean and noisy
together to a random level between -35 and -15 dBFS (with a guard against clipping). ``level_dbfs=[lo, hi]``
does the same: the noisy signal's RMS is drawn uniformly in [lo, hi] dBFS, the reference is rescaled with
it, and if the noisy peak would pass 0.99 both are scaled down to that peak. Ratios are unchanged.
"""
from __future__ import annotations

import numpy as np

from bench.core.audio import Clip, Observation
from bench.core.parameters import Range
from bench.corruptions import Corruption, corruption
from bench.metrics import MetricUndefined
from bench.metrics.waveform import si_sdr

CLIP_GUARD = 0.99


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    with np.errstate(divide="ignore"):  # a silent clip under noise of a given std: -inf dB
        return float(10 * np.log10(np.sum(clean**2) / np.sum(noise**2)))


def si_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The realised input SI-SNR, recorded in the observation's info; NaN for a silent clip (undefined)."""
    try:
        return float(si_sdr(np.asarray(clean, np.float64), np.asarray(noisy, np.float64), 0))
    except MetricUndefined:
        return float("nan")


def gain_for_snr(clean: np.ndarray, noise: np.ndarray, target_db: float) -> float:
    """The factor g such that the SNR of clean + g * noise is ``target_db``."""
    return float(np.sqrt(np.sum(clean**2) / (np.sum(noise**2) * 10 ** (target_db / 10))))


def gain_for_si_snr(clean: np.ndarray, noise: np.ndarray, target_db: float) -> float:
    """The factor g such that the SI-SNR of clean + g * noise against clean is ``target_db``."""
    s = clean - clean.mean()
    n = noise - noise.mean()
    a = np.dot(n, s) / np.dot(s, s)
    c = np.linalg.norm(n - a * s) / np.linalg.norm(s)
    denominator = np.sqrt(10 ** (target_db / 10)) * c - a
    if denominator <= 0:
        raise ValueError(f"SI-SNR {target_db} dB cannot be reached with this noise draw")
    return float(1.0 / denominator)


def require_signal(clip: Clip, name: str, ratio: bool = True) -> np.ndarray:
    """The clip as float64 (T,); sets of sources are refused, and so is silence when a ``ratio`` is set."""
    if clip.samples.ndim != 1:
        raise ValueError(f"{name} corrupts a single signal (T,), got shape {clip.samples.shape}")
    if ratio and not np.any(clip.samples):
        raise ValueError(f"{name}: the clip is silent, so no signal-to-noise ratio can be set")
    return clip.samples.astype(np.float64)


def rescale_to_level(clean: np.ndarray, noisy: np.ndarray, level_dbfs, rng) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scale clean and noisy together so the noisy RMS is uniform in ``level_dbfs`` = [lo, hi] dBFS."""
    lo, hi = (float(v) for v in level_dbfs)
    level = rng.uniform(lo, hi)
    gain = 10 ** (level / 20) / np.sqrt(np.mean(noisy**2))
    peak = np.max(np.abs(noisy)) * gain
    if peak > CLIP_GUARD:
        gain *= CLIP_GUARD / peak
    return clean * gain, noisy * gain, {"level_dbfs": float(20 * np.log10(np.sqrt(np.mean((noisy * gain) ** 2)))),
                                        "level_gain": float(gain)}


def noisy_observation(clip: Clip, clean: np.ndarray, noise: np.ndarray, task: str, rng,
                      level_dbfs=None, **info) -> Observation:
    """Observation of clean + noise with the realised ratios (and the optional DNS-style level) in info."""
    noisy = clean + noise
    info = {"snr_db": snr_db(clean, noise), "si_snr_db": si_snr_db(clean, noisy),
            "noise_std": float(noise.std()), **info}
    reference = clip.samples
    if level_dbfs is not None:
        clean, noisy, level_info = rescale_to_level(clean, noisy, level_dbfs, rng)
        reference = clean.astype(np.float32)
        info.update(level_info, noise_std=info["noise_std"] * level_info["level_gain"])
    return Observation(noisy, clip.sr, task, reference=reference, info=info)


class AdditiveNoise(Corruption):
    """Shared parameter handling: exactly one level parameter, an optional DNS-style output level."""

    task = "denoising"
    levels: tuple[str, ...] = ()

    def __init__(self, level_dbfs=None, **level):
        given = {k: v for k, v in level.items() if v is not None}
        if len(given) != 1:
            raise ValueError(f"{self.registered_name} takes exactly one of {', '.join(f'{k}=' for k in self.levels)}")
        if level_dbfs is not None and len(level_dbfs) != 2:
            raise ValueError("level_dbfs must be [low, high] in dBFS, e.g. [-35, -15]")
        super().__init__(**level, **({"level_dbfs": list(level_dbfs)} if level_dbfs is not None else {}))
        self.level_dbfs = level_dbfs
        (self.kind, self.target), = given.items()

    def draw(self, shape, rng) -> np.ndarray:
        raise NotImplementedError

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        clean = require_signal(clip, self.registered_name, ratio=self.kind != "std")
        noise = self.draw(clean.shape, rng)
        if self.kind == "std":
            noise *= self.target
        elif self.kind == "snr":
            noise *= gain_for_snr(clean, noise, self.target)
        else:
            noise *= gain_for_si_snr(clean, noise, self.target)
        return noisy_observation(clip, clean, noise, self.task, rng, self.level_dbfs)


@corruption("gaussian-noise", version="1")
class GaussianNoise(AdditiveNoise):
    """Additive white Gaussian noise with a standard deviation ``std``, or at a target ``snr`` or ``si_snr`` (dB)."""

    levels = ("std", "snr", "si_snr")
    parameter_ranges = {"std": Range(low=0, why="a standard deviation")}

    def __init__(self, std: float | None = None, snr: float | None = None, si_snr: float | None = None,
                 level_dbfs=None):
        super().__init__(level_dbfs=level_dbfs, std=std, snr=snr, si_snr=si_snr)

    def draw(self, shape, rng):
        return rng.standard_normal(shape)


@corruption("uniform-noise", version="1")
class UniformNoise(AdditiveNoise):
    """Additive white noise drawn from U(-1, 1), scaled to a target ``si_snr`` or ``snr`` (dB)."""

    levels = ("si_snr", "snr")

    def __init__(self, si_snr: float | None = None, snr: float | None = None, level_dbfs=None):
        super().__init__(level_dbfs=level_dbfs, si_snr=si_snr, snr=snr)

    def draw(self, shape, rng):
        return rng.uniform(-1.0, 1.0, shape)
