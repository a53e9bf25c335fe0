"""Raw-waveform deep priors (Turetzky et al., "Deep Audio Waveform Prior") as harness methods.

A fit: a freshly initialised network maps input noise to a waveform and is fitted to the corrupted waveform
with an L1 loss (over the observed samples only for inpainting: ``known["mask"]``), Adam lr 1e-4, up to 3000
iterations. Input: U(-1, 1) of the network's input length, drawn once, as the public code does (the default,
``input_noise="uniform", redraw="never"``). The paper's text says N(0, 0.1^2) drawn anew every iteration
except for inpainting (``input_noise="gaussian", redraw="auto"``); measured here, that input keeps the
network from fitting the observation: a translation-equivariant network fed fresh noise each
iteration has no fixed input to shape into one signal (on synthetic speech at lr 1e-3 for 800 iterations,
L1 loss 0.072 with the redrawn input against 0.0038 with the fixed one). The estimate is the
network's output centre-cropped to the clip (the networks' valid or power-of-two lengths need a longer
input), unclipped. Which iterate a table shows is the suite's ``select``: the paper reports each metric's
best over the fit ("average maximum": the harness's oracle over the trace); every record keeps the final
iterate too.

``waveform-demucs``: methods/networks/waveform_demucs.py, ``variant`` one of its DESIGNS (the Table 3 rows; the
default ``demucs`` is the prior of Tables 1-2) with optional overrides (``depth``, ``glu``, ``skips``,
``sequence``, ``sequence_layers``, ``channels``, ``rescale``: 0 for PyTorch's default initialisation;
``heads``, ``dropout``: the attention layers').
``wave-unet``: methods/networks/wave_unet.py (``levels``).
"""
from __future__ import annotations

import numpy as np
import torch
from bench.methods.networks.wave_unet import WaveUNet
from bench.methods.networks.waveform_demucs import WaveformDemucs, make_design

from bench.components.fitting import FittedPrior, Problems, Schedule
from bench.components.method import method
from bench.core.parameters import Range

NOISES = ("gaussian", "uniform")
REDRAWS = ("auto", "always", "never")


class WaveformPrior(FittedPrior):
    """Base: fit a waveform network's output to the observation with a (masked) L1 loss."""

    bf16_on_cpu = False  # bf16 made the Demucs prior slower on an AMX CPU (its LSTM: 69 % of a fit; issue 17)

    tasks = ("denoising", "dereverberation", "inpainting")
    protocol_defaults = {**FittedPrior.protocol_defaults, "iterations": 3000, "lr": 1e-4}
    loss_weights = ("mask",)

    def __init__(self, input_noise: str = "uniform", input_std: float = 0.1, redraw: str = "never",
                 precision: str = "auto", **params):
        super().__init__(precision=precision, input_noise=input_noise, input_std=input_std, redraw=redraw,
                         **params)
        if input_noise not in NOISES:
            raise ValueError(f"input_noise must be one of {NOISES}, not {input_noise!r}")
        if redraw not in REDRAWS:
            raise ValueError(f"redraw must be one of {REDRAWS}, not {redraw!r}")
        self.input_noise, self.input_std, self.redraw = input_noise, float(input_std), redraw

    def input_length(self, samples: int) -> int:
        raise NotImplementedError

    def input_shape(self, observation):
        return (1, self.input_length(observation.signal.shape[-1]))

    def draw_input(self, observation, generator):
        shape = self.input_shape(observation)
        if self.input_noise == "uniform":
            return torch.rand(shape, generator=generator) * 2 - 1
        return torch.randn(shape, generator=generator) * self.input_std

    def redraws_input(self, observation) -> bool:
        if self.redraw == "auto":
            return observation.task != "inpainting"
        return self.redraw == "always"

    def problem_tensors(self, observation):
        signal = np.asarray(observation.signal, dtype=np.float32)
        if signal.ndim != 1:
            raise ValueError(f"a waveform prior restores one signal (T,), got shape {signal.shape}")
        mask = observation.known.get("mask")
        mask = np.ones_like(signal) if mask is None else np.asarray(mask, dtype=np.float32)
        if mask.shape != signal.shape:
            raise ValueError(f"known['mask'] has shape {mask.shape}; expected the signal's {signal.shape}")
        return {"signal": torch.from_numpy(signal), "mask": torch.from_numpy(mask)}

    def signals(self, outputs, problems: Problems):
        return WaveUNet.crop(outputs[:, 0], problems.tensors["signal"].shape[-1])

    def objective(self, outputs, problems: Problems, step: int, schedule: Schedule):
        t = problems.tensors
        error = (self.signals(outputs, problems) - t["signal"]).abs() * t["mask"]
        return error.sum(-1) / t["mask"].sum(-1).clamp_min(1)

    def details(self) -> dict:
        facts = {"input_noise": self.input_noise, "redraw": self.redraw, "loss": "L1 (masked for inpainting)"}
        facts.update(self.network().describe())
        return facts


@method("waveform-demucs", version="3")  # 2: rescaled init, U(-1, 1) input; 3: ReLU demucs, torch attention
class WaveformDemucsPrior(WaveformPrior):
    """Waveform Demucs without U-Net skips as a deep prior (Turetzky et al.); ``variant``: the Table 3 designs."""

    def __init__(self, variant: str = "demucs", depth: int | None = None, glu: bool | None = None,
                 skips: bool | None = None, sequence: str | None = None, sequence_layers: int | None = None,
                 channels: int | None = None, rescale: float | None = None, heads: int | None = None,
                 dropout: float | None = None, **common):
        overrides = dict(depth=depth, glu=glu, skips=skips, sequence=sequence, sequence_layers=sequence_layers,
                         channels=channels, rescale=rescale, heads=heads, dropout=dropout)
        super().__init__(variant=variant, **overrides, **common)
        self.design = make_design(variant, **overrides)

    def network(self):
        return WaveformDemucs(self.design)

    def input_length(self, samples):
        return self.design.input_length(samples)


@method("wave-unet", version="2")  # 2: fixed U(-1, 1) input by default
class WaveUNetPrior(WaveformPrior):
    """Wave-U-Net (Stoller et al.) as a deep prior: the waveform-prior paper's weak-prior baseline."""

    # the input is padded to a multiple of 2^levels samples (2^16: 4 s at 16 kHz) and the filters grow by 24 a
    # level: past 16 levels the padding and the weights explode
    parameter_ranges = {"levels": Range(low=1, high=16, why="the input is padded to a multiple of 2^levels samples")}

    def __init__(self, levels: int = 12, **common):
        super().__init__(levels=levels, **common)
        self.levels = int(levels)

    def network(self):
        return WaveUNet(levels=self.levels)

    def input_length(self, samples):
        return -(-samples // 2 ** self.levels) * 2 ** self.levels
