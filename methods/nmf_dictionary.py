"""A classical reference for extracting one voice without paired training data: semi-supervised NMF
(Smaragdis, Raj and Shashanka 2007) with a dictionary learned from clean examples of that voice.

Training (``fit``): KL-NMF of the magnitude spectrograms of every clean female training clip (UDT's DR2
examples, unpaired with anything) gives ``components`` templates of the female voice. Separation: KL-NMF
of the mixture's magnitude with those templates fixed and ``free_components`` more learned for whatever
else is there (the interferer is never modelled in training; 8 by default: more free templates absorb
the female voice too, measured on the synthetic stand-ins); the female estimate is the mixture's STFT
times the soft mask W_f H_f / W H. The estimate is (female, mixture - female), the order of the
separation cells' references. STFT: periodic Hann window of ``n_fft``, hop ``hop`` (scipy.signal.stft).
"""
from __future__ import annotations

import numpy as np
import torch
from bench.methods.nmf_separation import kl_nmf
from bench.methods.style_transfer_separation import CLEAN_SOURCE
from scipy import signal as sps

from bench.components.method import method
from bench.components.training import TrainedMethod
from bench.core.audio import Estimate

_EPS = 1e-12


class Templates(torch.nn.Module):
    """The learned female templates, (bins, components), as a buffer: what ``trained.pt`` holds."""

    def __init__(self, bins: int, components: int):
        super().__init__()
        self.register_buffer("templates", torch.zeros(bins, components, dtype=torch.float64))


@method("nmf-dictionary-separation", version="1")
class NmfDictionarySeparation(TrainedMethod):
    """Semi-supervised KL-NMF: female templates learned from clean female examples, the rest learned on the
    mixture, soft masks."""

    tasks = ("separation",)
    training_data = dict(CLEAN_SOURCE)
    training_defaults = {"dictionary_iterations": 200}  # one fit: no epochs (a suite's epochs are not its)

    def __init__(self, components: int = 32, free_components: int = 8, iterations: int = 200,
                 n_fft: int = 1024, hop: int = 256):
        super().__init__(components=components, free_components=free_components, iterations=iterations,
                         n_fft=n_fft, hop=hop)
        self.components, self.free_components = int(components), int(free_components)
        self.iterations, self.n_fft, self.hop = int(iterations), int(n_fft), int(hop)

    def _stft(self, x: np.ndarray) -> np.ndarray:
        return sps.stft(x.astype(np.float64), nperseg=self.n_fft, noverlap=self.n_fft - self.hop)[2]

    def build(self):
        return Templates(self.n_fft // 2 + 1, self.components)

    def fit(self, data, context):
        self.model = self.build()
        clips = [np.asarray(clip.samples) for clip in data["clean_female"].clips()]
        if any(c.ndim != 1 for c in clips):
            raise ValueError("nmf-dictionary-separation: the clean training source must give single voices")
        v = np.abs(np.concatenate([self._stft(c) for c in clips], axis=1))
        for _epoch in context.epochs(self.model):
            w, h = kl_nmf(v, self.components, context.protocol["dictionary_iterations"], context.rng)
            model = w @ h + _EPS
            context.step(float(np.mean(v * np.log((v + _EPS) / model) - v + model)))  # KL per bin
            self.model.templates.copy_(torch.from_numpy(w))

    def restore(self, observation, context):
        x = np.asarray(observation.signal, dtype=np.float64)
        spec = self._stft(x)
        female_w = self.model.templates.cpu().numpy()
        w, h = kl_nmf(np.abs(spec), self.free_components, self.iterations, context.rng(), fixed=female_w)
        k = female_w.shape[1]
        mask = (w[:, :k] @ h[:k]) / (w @ h + _EPS)
        _, y = sps.istft(spec * mask, nperseg=self.n_fft, noverlap=self.n_fft - self.hop)
        female = y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))
        return Estimate(np.stack([female, x - female]).astype(np.float32),
                        info={"sources": ["female (estimated)", "mixture - female estimate"]})
