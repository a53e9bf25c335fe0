"""The one STFT the spectral priors use: real/imaginary channels in, waveform out, frames padded for U-Nets.

Narayanaswamy et al. state a 1022-sample window and a hop of 64 at 16 kHz; their released code analyses
with n_fft 1023 and synthesises with a 1022 window, a mismatch that caps the round-trip SNR near 20.6 dB.
Here analysis and synthesis share one transform: a periodic Hann window of ``n_fft`` = 1022 samples
(512 bins), hop 64, frames centred (zero padding of n_fft/2 at both ends), and the signal zero-padded at
the end so that the frame count is a multiple of ``frame_multiple`` (4: two 2x poolings in the U-Net).
Round trip (analyse -> synthesise) is exact to float precision.

A spectrogram is a tensor (..., 2, bins, frames): channel 0 the real part, channel 1 the imaginary part.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class SpectralFrame:
    n_fft: int = 1022
    hop: int = 64
    frame_multiple: int = 4

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, num_samples: int) -> int:
        """Frames for a signal of ``num_samples`` after padding to a multiple of ``frame_multiple``."""
        natural = 1 + math.ceil(num_samples / self.hop)
        return math.ceil(natural / self.frame_multiple) * self.frame_multiple

    def padded_length(self, num_samples: int) -> int:
        """Length the signal is zero-padded to before analysis (centred frames: frames - 1 hops)."""
        return self.hop * (self.frames(num_samples) - 1)

    def shape(self, num_samples: int) -> tuple[int, int, int]:
        """Spectrogram shape (2, bins, frames) for a signal of ``num_samples``."""
        return (2, self.bins, self.frames(num_samples))

    def window(self, device=None, dtype=torch.float32) -> torch.Tensor:
        return torch.hann_window(self.n_fft, periodic=True, device=device, dtype=dtype)

    def analyse(self, signal: torch.Tensor) -> torch.Tensor:
        """(..., T) waveform -> (..., 2, bins, frames) real/imaginary spectrogram."""
        lead, length = signal.shape[:-1], signal.shape[-1]
        padded = torch.nn.functional.pad(signal.reshape(-1, length), (0, self.padded_length(length) - length))
        spec = torch.stft(padded, self.n_fft, self.hop, window=self.window(signal.device, signal.dtype),
                          center=True, pad_mode="constant", return_complex=True)
        return torch.view_as_real(spec).movedim(-1, -3).reshape(*lead, 2, self.bins, spec.shape[-1])

    def synthesise(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """(..., 2, bins, frames) real/imaginary spectrogram -> (..., length) waveform."""
        lead = spec.shape[:-3]
        flat = spec.reshape(-1, *spec.shape[-3:])
        if flat.dtype not in (torch.float32, torch.float64):  # bf16/fp16 outputs of an autocast network
            flat = flat.float()
        complex_spec = torch.complex(flat[:, 0], flat[:, 1])
        wave = torch.istft(complex_spec, self.n_fft, self.hop, window=self.window(spec.device, flat.dtype),
                           center=True, length=self.padded_length(length))
        return wave[..., :length].reshape(*lead, length)

    def frame_support(self, frame: int) -> tuple[int, int]:
        """Samples [start, stop) that frame ``frame``'s window touches (centred frames; zero-weight ends excluded)."""
        start = frame * self.hop - self.n_fft // 2
        return start + 1, start + self.n_fft  # the periodic Hann window is zero at its first sample

    def frame_mask(self, sample_mask: np.ndarray) -> np.ndarray:
        """Frames whose whole window lies on known samples (``sample_mask`` > 0): 1.0 there, 0.0 elsewhere.

        Samples outside the signal (the analysis padding) count as known: both the observation and the
        estimate are cropped there. A frame that touches one unknown sample is unknown, so a loss masked
        with this does not depend on the observation inside the gaps.
        """
        known = np.asarray(sample_mask) > 0
        unknown_before = np.concatenate([[0], np.cumsum(~known)])  # unknown samples in [0, i)
        out = np.ones(self.frames(known.size), dtype=np.float32)
        for f in range(out.size):
            start, stop = self.frame_support(f)
            lo, hi = min(max(start, 0), known.size), min(max(stop, 0), known.size)
            if unknown_before[hi] - unknown_before[lo] > 0:
                out[f] = 0.0
        return out
