"""``stft-binary-mask``: the STFT/iSTFT row of Mimilakis et al. (2020), Table 2.

The mixture's STFT (window 2048, hop 384, Hamming as the paper says; the public code uses Hann and hop
256: ``window = "hann"``, ``hop = 256``) masked by the oracle binary mask |V| / |B| > 0.5 computed from the
STFTs of the known sources, then the inverse STFT (least-squares overlap-add). Returns (2, T): the masked
and the complementary estimate. On the ``reconstruction`` task it returns iSTFT(STFT(x)), the perfect
reconstruction the paper credits the STFT with.
"""
from __future__ import annotations

import numpy as np
from bench.methods.support.binary_masking import binary_mask, oracle_sources

from bench.components.method import Method, method
from bench.core.audio import Estimate

WINDOWS = ("hamming", "hann")


@method("stft-binary-mask", version="1",
        description="Mimilakis et al. (2020): oracle binary mask in the STFT (window 2048, hop 384, Hamming)")
class STFTBinaryMask(Method):
    tasks = ("reconstruction", "separation")

    def __init__(self, n_fft: int = 2048, hop: int = 384, window: str = "hamming"):
        if window not in WINDOWS:
            raise ValueError(f"stft-binary-mask: window must be one of {', '.join(WINDOWS)}, not {window!r}")
        if not 0 < hop <= n_fft:
            raise ValueError(f"stft-binary-mask: need 0 < hop <= n_fft, not hop={hop}, n_fft={n_fft}")
        super().__init__(n_fft=n_fft, hop=hop, window=window)
        self.n_fft, self.hop, self.window = int(n_fft), int(hop), window

    def _window(self):
        import torch
        return (torch.hamming_window if self.window == "hamming" else torch.hann_window)(self.n_fft, dtype=torch.float64)

    def stft(self, x):
        import torch
        return torch.stft(torch.as_tensor(np.asarray(x, dtype=np.float64)), self.n_fft, self.hop,
                          window=self._window(), center=True, return_complex=True)

    def istft(self, spectrum, length: int) -> np.ndarray:
        import torch
        return torch.istft(spectrum, self.n_fft, self.hop, window=self._window(), center=True,
                           length=length).numpy()

    def restore(self, observation, context):
        n = observation.signal.shape[-1]
        mixture = self.stft(observation.signal)
        if observation.task == "reconstruction":
            return Estimate(self.istft(mixture, n))
        sources = oracle_sources(observation, "stft-binary-mask")
        mask = binary_mask(self.stft(sources[0]).abs(), self.stft(sources[1]).abs()).to(mixture.dtype)
        return Estimate(np.stack([self.istft(mixture * mask, n), self.istft(mixture * (1 - mask), n)]),
                        info={"mask_kept": float(mask.real.mean())})
