"""Harmonic convolution (Zhang et al., ICLR 2020) computed by harmonic lowering (Takeuchi et al., 2020).

    y[w, t] = sum_n sum_k sum_tau W_n[k, tau] x[k * w / n, t + tau]

for harmonics k = 1..K and anchors n: the kernel at frequency bin w reads the input at the harmonic
series of w / n instead of at w's neighbours. The input is interpolated linearly along frequency and is
zero beyond the top bin. Lowering stacks the K * len(anchors) frequency-rescaled copies of the input as
channels, so the operation becomes one ordinary convolution with a kernel of 1 frequency tap and
``time_kernel`` time taps (optionally dilated in time). Zhang et al. released no code: this follows the
formula of their paper; the defaults (K = 7 harmonics, one anchor n = 1, 3 time taps) are this
harness's choice, and ``anchors`` takes several anchors (each with its own weights, summed).
"""
from __future__ import annotations

import torch
from torch import nn


class HarmonicConv2d(nn.Module):
    """Harmonic convolution over (N, C, frequency, time) tensors; 'same' output size."""

    def __init__(self, in_channels: int, out_channels: int, *, harmonics: int = 7, anchors=(1,),
                 time_kernel: int = 3, time_dilation: int = 1, bias: bool = True):
        super().__init__()
        if harmonics < 1 or not anchors or any(int(n) < 1 for n in anchors):
            raise ValueError("harmonic convolution needs harmonics >= 1 and anchors >= 1")
        if time_kernel % 2 != 1:
            raise ValueError(f"time_kernel must be odd for a centred kernel, got {time_kernel}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.harmonics, self.anchors = int(harmonics), tuple(int(n) for n in anchors)
        self.time_kernel, self.time_dilation = int(time_kernel), int(time_dilation)
        # The ratios k / n, one lowered copy of the input each (ordered anchor-major).
        self.ratios = tuple(k / n for n in self.anchors for k in range(1, self.harmonics + 1))
        self.conv = nn.Conv2d(in_channels * len(self.ratios), out_channels, (1, self.time_kernel),
                              padding=(0, self.time_dilation * (self.time_kernel // 2)),
                              dilation=(1, self.time_dilation), bias=bias)
        self._tables: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, harmonics={self.harmonics}, anchors={self.anchors}, "
                f"time_kernel={self.time_kernel}, time_dilation={self.time_dilation}")

    def interpolation(self, bins: int, device) -> tuple[torch.Tensor, ...]:
        """For each ratio r and bin w: the two source bins around r * w and their linear weights."""
        key = (bins, str(device))
        if key not in self._tables:
            w = torch.arange(bins, dtype=torch.float64)
            position = torch.tensor(self.ratios, dtype=torch.float64)[:, None] * w[None, :]  # (R, bins)
            lower = position.floor()
            frac = position - lower
            inside_lo = lower <= bins - 1
            inside_hi = lower + 1 <= bins - 1
            weight_lo = torch.where(inside_lo, 1 - frac, torch.zeros_like(frac))
            weight_hi = torch.where(inside_hi, frac, torch.zeros_like(frac))
            lo = lower.clamp(max=bins - 1).long()
            hi = (lower + 1).clamp(max=bins - 1).long()
            self._tables[key] = (lo.reshape(-1).to(device), hi.reshape(-1).to(device),
                                 weight_lo.float().to(device), weight_hi.float().to(device))
        return self._tables[key]

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, F, T) -> (N, C * R, F, T): the input read at every harmonic ratio (channel-major)."""
        n, c, f, t = x.shape
        lo, hi, w_lo, w_hi = self.interpolation(f, x.device)
        r = len(self.ratios)
        gathered_lo = x.index_select(2, lo).reshape(n, c, r, f, t)
        gathered_hi = x.index_select(2, hi).reshape(n, c, r, f, t)
        w_lo = w_lo.to(x.dtype)[None, None, :, :, None]
        w_hi = w_hi.to(x.dtype)[None, None, :, :, None]
        return (gathered_lo * w_lo + gathered_hi * w_hi).reshape(n, c * r, f, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.lower(x))
