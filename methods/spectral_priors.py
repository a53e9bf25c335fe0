"""Spectral U-Net deep priors (Narayanaswamy et al., 2021) for denoising and inpainting.

Each registered method is one prior design (methods/networks/spectral_unet.py). A fit, as in the paper and its
released code: the input z ~ N(0, 1) of the spectrogram's shape (2, 512 bins, frames), fixed; the network
output is a real/imaginary spectrogram; the loss is the mean squared error to the observation's STFT
(window 1022, hop 64; bench/core/stft.py), over all bins and frames for denoising and over the known frames
only for inpainting (``m * f(z)`` against ``m * x``); Adam, lr 1e-3, 2000 iterations; the released
code's step decay (x0.1 every 500 iterations) is the protocol option ``lr_step = 500``. The estimate is the
inverse STFT of the output, clipped to [-1, 1] (``clip``), as the released code scores it.

Inpainting masks: the frame mask of the spectral-holes corruption (``known["frame_mask"]``) when it has
this STFT's frame count, else one derived from the waveform mask ``known["mask"]`` (a frame is known when
its whole window lies on known samples: bench.core.stft.SpectralFrame.frame_mask). ``loss_domain="waveform"``
instead compares the inverse STFT of the output with the observation on the known samples.

Self-validation (``holdout``, bench.components.fitting): the spectral loss holds out random time-frequency bins of the
known frames (``bin_mask``), as Li et al. hold out pixels of an image; the waveform loss holds out samples.
Neither split works as a stopping signal for this prior on Gaussian noise: frames 64 samples apart share
94 % of their 1022-sample windows, so a held-out bin's noise is predictable from the fitted bins around it,
and on three real speech clips (benchmarks/suites/stopping-rules-speech-check.toml) the held-out loss kept
falling to the last iterate while the SNR peaked at iterations 55-100. Whole frames held out (an earlier
try) failed the other way: their loss rose from iteration 30 of a fit that peaked at 100.

Parameters: ``layout`` ("paper" or "released"; see methods/networks/spectral_unet.py), ``dilation_factor`` (the
constant design), ``harmonic`` (the harmonic design's options), ``loss_domain``, ``clip``, ``precision``,
``holdout``.
Which iterate a table reports is the suite's choice (``select``): the traces hold every ``trace_every``-th
iterate, scored by the harness against the clean signal.
"""
from __future__ import annotations

import numpy as np
import torch
from bench.methods.networks.spectral_unet import SpectralUNet, make_design

from bench.components.fitting import FittedPrior, Problems, Schedule
from bench.components.method import method
from bench.core.stft import SpectralFrame


class SpectralPrior(FittedPrior):
    """Base of the registered designs: fit a spectral U-Net to the observation's STFT."""

    tasks = ("denoising", "inpainting")
    design_name = "exp-dense"

    loss_weights = ("bin_mask", "sample_mask")  # the spectral loss's and the waveform loss's

    def __init__(self, layout: str = "paper", dilation_factor: int | None = None, harmonic: dict | None = None,
                 loss_domain: str = "spectral", clip: bool = True, precision: str = "auto", holdout: float = 0.0):
        super().__init__(precision=precision, holdout=holdout, layout=layout, dilation_factor=dilation_factor,
                         harmonic=harmonic, loss_domain=loss_domain, clip=clip)
        if loss_domain not in ("spectral", "waveform"):
            raise ValueError(f"loss_domain must be 'spectral' or 'waveform', not {loss_domain!r}")
        self.design = make_design(self.design_name, layout=layout, dilation_factor=dilation_factor,
                                  harmonic=harmonic)
        self.loss_domain, self.clip = loss_domain, bool(clip)
        self.frame = SpectralFrame()

    def details(self) -> dict:
        design = self.design
        facts = {"design": self.design_name, "conv": design.conv, "dilation": design.dilation,
                 "dense": design.dense, "layout": design.layout}
        if design.conv == "harmonic":
            facts["harmonic"] = design.harmonic
        facts.update(SpectralUNet(design).describe())
        return facts

    def network(self):
        return SpectralUNet(self.design)

    def input_shape(self, observation):
        return self.frame.shape(observation.signal.shape[-1])

    def problem_tensors(self, observation):
        signal = torch.from_numpy(observation.signal.astype(np.float32))
        samples = self.sample_mask(observation)
        frames = self.frame_mask(observation, samples)
        spectrogram = self.frame.analyse(signal)
        frame_mask = torch.from_numpy(frames)
        return {"signal": signal, "spectrogram": spectrogram, "sample_mask": torch.from_numpy(samples),
                "frame_mask": frame_mask, "bin_mask": frame_mask.expand(spectrogram.shape[-2], -1).clone()}

    def sample_mask(self, observation) -> np.ndarray:
        mask = observation.known.get("mask")
        if mask is None:
            return np.ones(observation.signal.shape, dtype=np.float32)
        mask = np.asarray(mask, dtype=np.float32)
        if mask.shape != observation.signal.shape:
            raise ValueError(f"known['mask'] has shape {mask.shape}; expected the signal's {observation.signal.shape}")
        return mask

    def frame_mask(self, observation, samples: np.ndarray) -> np.ndarray:
        given = observation.known.get("frame_mask")
        stft = observation.known.get("stft") or {}
        frames = self.frame.frames(observation.signal.shape[-1])
        if (given is not None and np.shape(given) == (frames,) and stft.get("n_fft", self.frame.n_fft) == self.frame.n_fft
                and stft.get("hop", self.frame.hop) == self.frame.hop):
            return np.asarray(given, dtype=np.float32)
        return self.frame.frame_mask(samples)

    def objective(self, outputs, problems: Problems, step: int, schedule: Schedule):
        t = problems.tensors
        if self.loss_domain == "waveform":
            waves = self.frame.synthesise(outputs, t["signal"].shape[-1])
            weight = t["sample_mask"]
            return ((waves - t["signal"]) ** 2 * weight).sum(-1) / weight.sum(-1).clamp_min(1)
        if "bin_mask" in t:  # (B, bins, frames): the known frames' bins, less any held out (holdout)
            weight = t["bin_mask"][:, None]
        else:  # (B, 1, 1, frames): all bins of a known frame
            weight = t["frame_mask"][:, None, None, :]
        squared = (outputs - t["spectrogram"]) ** 2 * weight
        entries = weight.expand(-1, 1, *outputs.shape[2:]).sum((1, 2, 3)).clamp_min(1) * outputs.shape[1]
        return squared.sum((1, 2, 3)) / entries

    def signals(self, outputs, problems: Problems):
        waves = self.frame.synthesise(outputs, problems.tensors["signal"].shape[-1])
        return waves.clamp(-1.0, 1.0) if self.clip else waves


@method("unet-conv", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class UNetConv(SpectralPrior):
    """Spectral U-Net prior with standard 3x3 convolutions."""

    design_name = "conv"


@method("unet-dilated", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class UNetDilated(SpectralPrior):
    """Spectral U-Net prior with dilated convolutions of a constant factor (4, as the released code)."""

    design_name = "dilated"


@method("unet-exp", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class UNetExp(SpectralPrior):
    """Spectral U-Net prior with the exponential dilation schedule (2 up to 32, mirrored upstream)."""

    design_name = "exp"


@method("unet-exp-dense", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class UNetExpDense(SpectralPrior):
    """Spectral U-Net prior with exponential dilations and dense blocks (the paper's proposal)."""

    design_name = "exp-dense"


@method("unet-harmonic", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class UNetHarmonic(SpectralPrior):
    """Spectral U-Net prior with harmonic convolutions (Zhang et al. 2020): 7 harmonics, anchor 1, 3 time taps."""

    design_name = "harmonic"
