"""The style-transfer paper's front end (Venkataramani et al. 2019, Section 4.1): STFT magnitudes raised to
the power 0.7, 1024 of the 1025 frequency bins of a 2048-sample window, and the way back with the mixture's
phase.

A periodic Hann window of ``n_fft`` samples, hop ``hop`` (the paper: 2048 and 16, about 2000 frames per 2 s
at 16 kHz), frames centred with zero padding of n_fft/2 at both ends. The network sees ``n_fft/2``
coefficients: the Nyquist bin (the last of the n_fft/2 + 1) is dropped, since at 16 kHz it holds the 8 kHz
edge where speech has next to no energy; on the way back it is set to zero. An estimated feature map
(power-law magnitudes) is raised to 1/0.7, given the mixture's phase and inverted by the overlap-add
inverse STFT.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PowerSpectrogram:
    n_fft: int = 2048
    hop: int = 16
    power: float = 0.7

    def __post_init__(self):
        if self.n_fft < 4 or self.n_fft % 2:
            raise ValueError(f"n_fft must be an even number of samples >= 4, not {self.n_fft}")
        if not 0 < self.hop <= self.n_fft:
            raise ValueError(f"hop must be between 1 and n_fft ({self.n_fft}), not {self.hop}")

    @property
    def coefficients(self) -> int:
        """Frequency coefficients the network sees: the n_fft/2 bins below Nyquist."""
        return self.n_fft // 2

    def frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop

    def stft(self, signal: torch.Tensor) -> torch.Tensor:
        """(..., T) waveform -> (..., n_fft/2 + 1, frames) complex STFT."""
        lead, length = signal.shape[:-1], signal.shape[-1]
        window = torch.hann_window(self.n_fft, periodic=True, device=signal.device, dtype=signal.dtype)
        spec = torch.stft(signal.reshape(-1, length), self.n_fft, self.hop, window=window, center=True,
                          pad_mode="constant", return_complex=True)
        return spec.reshape(*lead, *spec.shape[-2:])

    def features(self, signal: torch.Tensor) -> torch.Tensor:
        """(..., T) waveform -> (..., n_fft/2, frames) magnitudes to the power 0.7, Nyquist bin dropped."""
        return self.stft(signal)[..., : self.coefficients, :].abs().pow(self.power)

    def waveform(self, features: torch.Tensor, mixture_stft: torch.Tensor, length: int) -> torch.Tensor:
        """Estimated features (..., n_fft/2, frames) -> (..., length) waveform with the mixture's phase."""
        magnitude = features.clamp_min(0).pow(1.0 / self.power)
        magnitude = torch.nn.functional.pad(magnitude, (0, 0, 0, 1))  # the Nyquist bin, set to zero
        phase = torch.polar(torch.ones_like(mixture_stft.real), mixture_stft.angle())
        spec = magnitude.to(phase.real.dtype) * phase
        lead = spec.shape[:-2]
        window = torch.hann_window(self.n_fft, periodic=True, device=spec.device, dtype=magnitude.dtype)
        out = torch.istft(spec.reshape(-1, *spec.shape[-2:]), self.n_fft, self.hop, window=window, center=True,
                          length=length)
        return out.reshape(*lead, length)

    def as_dict(self) -> dict:
        return {"n_fft": self.n_fft, "hop": self.hop, "power": self.power}
