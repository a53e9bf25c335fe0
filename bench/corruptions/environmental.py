"""Environmental noise from a noise corpus, mixed at an SNR drawn uniformly from a range (denoising task).

Narayanaswamy et al. mix DEMAND "living room" and "traffic" recordings with clean audio at SNRs drawn
between 5 and 9 dB. Here the noise corpus is any registered dataset (default ``demand``, its parameters in
``noise_params``, e.g. {environment = "DLIVING"}); the corruption's seed chooses the noise item, the excerpt
(through the corpus loader's rng) and the SNR, which is then hit exactly.

When the noise corpus is missing, ``resolve_params`` (called when cells are expanded) either lets
CorpusMissing propagate or, under ``--synthetic``, switches to the corpus's synthetic stand-in with the
parameters the corpus gives for it (``Dataset.standin`` and ``standin_params``: for DEMAND, the
``synthetic-noise`` scene matching the environment; ``synthetic-noise`` with its defaults for a corpus that
names none), recording ``standin_for`` in the parameters so the cell key and tables show it.
"""
from __future__ import annotations

import numpy as np

from bench.components.dataset import CorpusMissing, build_dataset
from bench.core.audio import Clip, Observation
from bench.corruptions import Corruption, corruption
from bench.corruptions.noise import gain_for_snr, noisy_observation, require_signal

STANDIN = "synthetic-noise"  # for a noise corpus that names no stand-in of its own


@corruption("environmental-noise", version="1")
class EnvironmentalNoise(Corruption):
    """Noise from a corpus (default ``demand``) added at an SNR drawn uniformly in [``snr_min``, ``snr_max``] dB."""

    task = "denoising"

    def __init__(self, noise: str = "demand", noise_params: dict | None = None, snr_min: float = 5.0,
                 snr_max: float = 9.0, standin_for: str | None = None):
        if snr_min > snr_max:
            raise ValueError(f"environmental-noise: snr_min {snr_min} is above snr_max {snr_max}")
        super().__init__(noise=noise, noise_params=dict(noise_params or {}), snr_min=snr_min, snr_max=snr_max,
                         standin_for=standin_for)
        self.noise, self.noise_params = noise, dict(noise_params or {})
        self.snr_min, self.snr_max, self.standin_for = float(snr_min), float(snr_max), standin_for

    @classmethod
    def resolve_params(cls, params: dict, *, synthetic: bool, data_root) -> dict:
        params = dict(params)
        name = params.get("noise", "demand")
        corpus = build_dataset(name, params.get("noise_params"), data_root)
        if corpus.synthetic:
            return params
        try:
            corpus.check()
        except CorpusMissing:
            if not synthetic:
                raise
            standin, standin_params = corpus.standin or STANDIN, {}
            if corpus.standin:  # the corpus knows its matching scene (DEMAND: street/transport -> traffic)
                standin_params = dict(getattr(corpus, "standin_params", None) or {})
            params.update(noise=standin, noise_params=standin_params, standin_for=name)
        return params

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        clean = require_signal(clip, "environmental-noise")
        corpus = build_dataset(self.noise, self.noise_params, self.data_root)
        item = corpus.select(1, seed=int(rng.integers(2**62)))[0]
        excerpt = corpus.load(item, sr=clip.sr, seconds=clip.num_samples / clip.sr, rng=rng)
        noise = _fit_length(excerpt.samples, clean.size, f"{self.noise} item {item}").astype(np.float64)
        if not np.any(noise):
            raise ValueError(f"environmental-noise: {self.noise} item {item} is silent at offset {excerpt.offset}")
        target = rng.uniform(self.snr_min, self.snr_max)
        noise *= gain_for_snr(clean, noise, target)
        return noisy_observation(clip, clean, noise, self.task, rng, target_snr_db=float(target),
                                 noise_dataset=self.noise, noise_item=item, noise_offset=int(excerpt.offset),
                                 **({"standin_for": self.standin_for} if self.standin_for else {}))


def _fit_length(noise: np.ndarray, length: int, what: str) -> np.ndarray:
    """A mono noise excerpt of exactly ``length`` samples (a loader may round the length by a sample)."""
    if noise.ndim != 1:
        raise ValueError(f"environmental-noise: {what} is not mono (shape {noise.shape})")
    if noise.size < length:
        if noise.size < 0.9 * length:
            raise ValueError(f"environmental-noise: {what} gives {noise.size} samples, the clip needs {length}")
        noise = np.pad(noise, (0, length - noise.size), mode="wrap")
    return noise[:length]
