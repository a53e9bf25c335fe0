"""Wave-U-Net (Stoller et al., 2018) as a deep prior: the weak-prior baseline of the waveform-prior paper.

As the waveform-prior paper's code builds it (its public repository): ``levels`` (12) down levels,
level i a Conv1d of 24 (i + 1) filters, kernel 15, LeakyReLU(0.2), then decimation by 2 (every other
sample); a bottleneck Conv1d of 24 (levels + 1) filters; up levels: linear upsampling x2, concatenation with
the matching down level's features (before decimation), Conv1d kernel 5 + LeakyReLU(0.2); the network input
concatenated before a 1x1 output convolution and tanh. Convolutions here are zero-padded ("same"), so the
crop of crop-and-concat is the identity: the input length is a multiple of 2^levels (``input_length``) and
``crop`` takes the centred T output samples.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from bench.methods.networks.waveform_demucs import centre_crop
from torch import nn


class WaveUNet(nn.Module):
    def __init__(self, levels: int = 12, filters: int = 24, down_kernel: int = 15, up_kernel: int = 5):
        super().__init__()
        self.levels = levels
        act = nn.LeakyReLU(0.2)
        widths = [filters * (i + 1) for i in range(levels + 1)]
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv1d(1 if i == 0 else widths[i - 1], widths[i], down_kernel, padding="same"), act)
            for i in range(levels))
        self.bottleneck = nn.Sequential(nn.Conv1d(widths[levels - 1], widths[levels], down_kernel, padding="same"),
                                        act)
        self.up = nn.ModuleList(
            nn.Sequential(nn.Conv1d(widths[i + 1] + widths[i], widths[i], up_kernel, padding="same"), act)
            for i in reversed(range(levels)))
        self.output = nn.Conv1d(widths[0] + 1, 1, 1)

    def input_length(self, samples: int) -> int:
        block = 2 ** self.levels
        return -(-samples // block) * block

    crop = staticmethod(centre_crop)

    def forward(self, x):
        if x.shape[-1] % 2 ** self.levels:
            raise ValueError(f"Wave-U-Net input length {x.shape[-1]} is not a multiple of 2^{self.levels}")
        source, saved = x, []
        for layer in self.down:
            x = layer(x)
            saved.append(x)
            x = x[..., ::2]
        x = self.bottleneck(x)
        for layer in self.up:
            x = F.interpolate(x, scale_factor=2, mode="linear", align_corners=False)
            x = layer(torch.cat([x, saved.pop()], dim=1))
        return torch.tanh(self.output(torch.cat([x, source], dim=1)))

    def describe(self) -> dict:
        return {"parameters": sum(p.numel() for p in self.parameters()), "levels": self.levels}
