"""Oracle-free two-source separation by non-negative matrix factorisation, the classical baseline.

The mixture's magnitude spectrogram V (STFT of ``n_fft``, hop ``hop``) is factorised as W H with
``components`` non-negative spectral templates (multiplicative updates for the generalised Kullback-Leibler
divergence, Lee and Seung 2001). The templates are grouped into two sources by their spectral centroid (the
split of the sorted log-centroids that minimises the within-group variance, i.e. exact 1-D 2-means), and
each source is the mixture's STFT times its soft mask W_j H_j / W H. The method cannot know which output is
which reference: it returns the low-centroid source first. BSS Eval resolves the permutation itself; a
per-source metric that does not (spectral SNR, envelope distance per source) scores that order.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from bench.components.method import Method, method
from bench.core.audio import Estimate

_EPS = 1e-12


def kl_nmf(v: np.ndarray, components: int, iterations: int, rng: np.random.Generator,
           fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """W (bins, components), H (components, frames) with W H ~ v under the generalised KL divergence.

    ``fixed``: templates (bins, k) learned elsewhere, kept as they are (scaled to unit sum) as W's first k
    columns; ``components`` more are learned beside them (semi-supervised NMF)."""
    w = rng.uniform(0.1, 1.0, (v.shape[0], components)) * v.mean()
    k = 0 if fixed is None else fixed.shape[1]
    h = rng.uniform(0.1, 1.0, (components + k, v.shape[1]))
    if k:
        w = np.hstack([fixed / (fixed.sum(axis=0) + _EPS), w])
    for _ in range(iterations):
        h *= (w.T @ (v / (w @ h + _EPS))) / (w.sum(axis=0)[:, None] + _EPS)
        w[:, k:] *= ((v / (w @ h + _EPS)) @ h[k:].T) / (h[k:].sum(axis=1)[None, :] + _EPS)
        scale = w.sum(axis=0) + _EPS  # templates of unit sum; activations carry the level
        w, h = w / scale, h * scale[:, None]
    return w, h


def split_by_centroid(w: np.ndarray) -> np.ndarray:
    """A boolean per template: True for the high-centroid group (1-D 2-means on the log-centroids)."""
    bins = np.arange(1, w.shape[0] + 1)
    centroid = np.log((bins @ w) / (w.sum(axis=0) + _EPS))
    order = np.argsort(centroid)
    ranked = centroid[order]
    costs = [ranked[:k].var() * k + ranked[k:].var() * (ranked.size - k) for k in range(1, ranked.size)]
    k = 1 + int(np.argmin(costs))
    high = np.zeros(w.shape[1], dtype=bool)
    high[order[k:]] = True
    return high


@method("nmf-separation", version="1")
class NmfSeparation(Method):
    """KL-NMF of the mixture's magnitude, templates split into two sources by spectral centroid, soft masks."""

    tasks = ("separation",)

    def __init__(self, components: int = 16, iterations: int = 200, n_fft: int = 1024, hop: int = 256):
        super().__init__(components=components, iterations=iterations, n_fft=n_fft, hop=hop)
        self.components, self.iterations = int(components), int(iterations)
        self.n_fft, self.hop = int(n_fft), int(hop)

    def restore(self, observation, context):
        sources = int(observation.known.get("num_sources", 2) or 2)
        if sources != 2:
            raise ValueError(f"nmf-separation separates two sources, the observation has {sources}")
        x = observation.signal.astype(np.float64)
        stft = dict(nperseg=self.n_fft, noverlap=self.n_fft - self.hop)
        _, _, spec = sps.stft(x, **stft)
        w, h = kl_nmf(np.abs(spec), self.components, self.iterations, context.rng())
        high = split_by_centroid(w)
        model = w @ h + _EPS
        outputs = []
        for group in (~high, high):
            _, y = sps.istft(spec * (w[:, group] @ h[group]) / model, **stft)
            outputs.append(y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size)))
        return Estimate(np.stack(outputs).astype(np.float32), info={"high_templates": int(high.sum())})
