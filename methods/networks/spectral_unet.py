"""The spectral U-Net prior of Narayanaswamy et al. (2021) in its designs, as one configurable network.

The network maps a fixed noise input (2, bins, frames) to a real/imaginary spectrogram of the same shape.
A design chooses the convolution (standard 3x3 or harmonic), the dilation schedule and whether each block
is densely connected; a layout chooses the widths.

Layout "paper" (Section 3.1 of the paper, the default): encoder blocks of widths {35, 70} and {70, 140}
each followed by 2x2 max pooling, a bottleneck {70, 70}, decoder blocks {140, 70} and {70, 35} each
after a bilinear x2 upsampling whose output is concatenated with the encoder block of the same scale
(skip connection), and a final 1x1 convolution to 2 channels (linear output).

Layout "released" (the public code, which has only the dense variant): encoder blocks {35, 35} and
{70, 70}, bottleneck {140, 140}; each decoder step upsamples, applies a 3x3 convolution to the next width
and concatenates the encoder block's dense features (before its transition), then a block; about 1.1 M
parameters for the dense design.

Blocks: two convolution units (conv -> instance norm without affine -> ReLU in the encoder and bottleneck,
conv -> ReLU in the decoder, as in the released code). A dense block (after DDxNet, Thiagarajan et al.)
feeds the second convolution [c1, x] and ends with a 1x1 transition convolution (linear) from
[c2, c1, x] back to the block's last width.

Dilation schedules, given per block as (first conv, second conv) in the order encoder..., bottleneck,
decoder... (shallowest encoder first, deepest decoder first):
- none: 1 everywhere (standard convolution);
- constant: the factor (default 4, the released code's value; the paper gives none) everywhere;
- exponential, layout paper: (2, 4), (8, 16), (32, 32), (16, 8), (4, 2): "starting with a dilation
  factor of 2 for the first convolution layer in the first block, the dilation rate grows up to 32 in
  the bottleneck block", the upstream mirroring the downstream;
- exponential, layout released: (1, 2), (4, 8), (16, 32), (32, 16), (8, 4), as the public code has it.
Dilated 3x3 convolutions are padded to keep the size (zeros). Harmonic convolutions dilate in time only.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from bench.methods.networks.harmonic_conv import HarmonicConv2d
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Layout:
    encoder: tuple[tuple[int, int], ...]
    bottleneck: tuple[int, int]
    decoder: tuple[tuple[int, int], ...]  # deepest first
    upsample_conv: bool = False  # a 3x3 convolution after each upsampling, to the decoder block's first width
    skip: str = "output"  # "output": the encoder block's output; "features": its dense features

    @property
    def blocks(self) -> int:
        return len(self.encoder) + 1 + len(self.decoder)


LAYOUTS = {
    "paper": Layout(encoder=((35, 70), (70, 140)), bottleneck=(70, 70), decoder=((140, 70), (70, 35))),
    "released": Layout(encoder=((35, 35), (70, 70)), bottleneck=(140, 140), decoder=((70, 70), (35, 35)),
                       upsample_conv=True, skip="features"),
}

EXPONENTIAL = {
    "paper": ((2, 4), (8, 16), (32, 32), (16, 8), (4, 2)),
    "released": ((1, 2), (4, 8), (16, 32), (32, 16), (8, 4)),
}


@dataclass(frozen=True)
class Design:
    """Everything that distinguishes one prior design from another."""

    conv: str = "standard"  # "standard" (3x3) or "harmonic"
    dilation: str = "none"  # "none", "constant" or "exponential"
    dense: bool = False
    layout: str = "paper"
    dilation_factor: int = 4  # for dilation="constant"
    harmonic: dict = field(default_factory=lambda: {"harmonics": 7, "anchors": (1,), "time_kernel": 3})

    def __post_init__(self):
        if self.conv not in ("standard", "harmonic"):
            raise ValueError(f"conv must be 'standard' or 'harmonic', not {self.conv!r}")
        if self.dilation not in ("none", "constant", "exponential"):
            raise ValueError(f"dilation must be 'none', 'constant' or 'exponential', not {self.dilation!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, not {self.layout!r}")

    def schedule(self) -> tuple[tuple[int, int], ...]:
        """Dilation (first conv, second conv) per block: encoder..., bottleneck, decoder..."""
        blocks = LAYOUTS[self.layout].blocks
        if self.dilation == "exponential":
            return EXPONENTIAL[self.layout]
        factor = self.dilation_factor if self.dilation == "constant" else 1
        return ((factor, factor),) * blocks


DESIGNS = {
    "conv": Design(),
    "dilated": Design(dilation="constant"),
    "exp": Design(dilation="exponential"),
    "exp-dense": Design(dilation="exponential", dense=True),
    "harmonic": Design(conv="harmonic"),
}


def make_design(name: str, **overrides) -> Design:
    if name not in DESIGNS:
        raise ValueError(f"unknown U-Net design {name!r}; choose one of {', '.join(DESIGNS)}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "harmonic" in overrides:
        overrides["harmonic"] = {**DESIGNS[name].harmonic, **overrides["harmonic"]}
    return replace(DESIGNS[name], **overrides)


def instance_norm(channels: int) -> nn.Module:
    """Instance normalisation without affine parameters, as group norm with one group per channel: the same
    function (tests/test_spectral_priors.py checks it), but its CPU kernel works in channels-last where
    InstanceNorm2d converts the layout back and forth around every call."""
    return nn.GroupNorm(channels, channels, eps=1e-5, affine=False)


class ConvUnit(nn.Module):
    """convolution -> optional instance norm -> ReLU."""

    def __init__(self, design: Design, in_channels: int, out_channels: int, dilation: int, norm: bool):
        super().__init__()
        if design.conv == "harmonic":
            self.conv = HarmonicConv2d(in_channels, out_channels, time_dilation=dilation, **design.harmonic)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation)
        self.norm = instance_norm(out_channels) if norm else nn.Identity()

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


class Block(nn.Module):
    """Two convolution units, plain or densely connected; returns (output, features for a skip)."""

    def __init__(self, design: Design, in_channels: int, widths: tuple[int, int], dilations: tuple[int, int],
                 norm: bool):
        super().__init__()
        first, second = widths
        self.dense = design.dense
        self.unit1 = ConvUnit(design, in_channels, first, dilations[0], norm)
        self.unit2 = ConvUnit(design, first + (in_channels if self.dense else 0), second, dilations[1], norm)
        self.feature_channels = in_channels + first + second if self.dense else second
        self.transition = nn.Conv2d(self.feature_channels, second, 1) if self.dense else None
        self.out_channels = second

    def forward(self, x):
        c1 = self.unit1(x)
        if not self.dense:
            c2 = self.unit2(c1)
            return c2, c2
        c2 = self.unit2(torch.cat([c1, x], dim=1))
        features = torch.cat([c2, c1, x], dim=1)
        return self.transition(features), features


class SpectralUNet(nn.Module):
    """U-Net prior over (N, channels, bins, frames); bins and frames must be divisible by 2**len(encoder)."""

    def __init__(self, design: Design, in_channels: int = 2, out_channels: int = 2):
        super().__init__()
        self.design = design
        layout = LAYOUTS[design.layout]
        schedule = design.schedule()
        self.depth = len(layout.encoder)
        self.encoder = nn.ModuleList()
        channels, skips = in_channels, []
        for widths, dilations in zip(layout.encoder, schedule):
            block = Block(design, channels, widths, dilations, norm=True)
            self.encoder.append(block)
            skips.append(block.feature_channels if layout.skip == "features" else block.out_channels)
            channels = block.out_channels
        self.bottleneck = Block(design, channels, layout.bottleneck, schedule[self.depth], norm=True)
        channels = self.bottleneck.out_channels
        self.upsample_convs = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for widths, dilations, skip in zip(layout.decoder, schedule[self.depth + 1:], reversed(skips)):
            if layout.upsample_conv:
                self.upsample_convs.append(ConvUnit(design, channels, widths[0], 1, norm=False))
                channels = widths[0]
            block = Block(design, channels + skip, widths, dilations, norm=False)
            self.decoder.append(block)
            channels = block.out_channels
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x):
        skips = []
        for block in self.encoder:
            x, features = block(x)
            skips.append(features if LAYOUTS[self.design.layout].skip == "features" else x)
            x = F.max_pool2d(x, 2)
        x, _ = self.bottleneck(x)
        for i, block in enumerate(self.decoder):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            if self.upsample_convs:
                x = self.upsample_convs[i](x)
            x, _ = block(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)

    def describe(self) -> dict:
        """Parameter count, dilation schedule and channel counts, for ``bench list methods --details``."""
        blocks = [*self.encoder, self.bottleneck, *self.decoder]
        names = ([f"enc{i + 1}" for i in range(len(self.encoder))] + ["bottleneck"]
                 + [f"dec{len(self.decoder) - i}" for i in range(len(self.decoder))])
        channels = []
        for name, block in zip(names, blocks):
            first, second = block.unit1.conv.out_channels, block.unit2.conv.out_channels
            text = f"{name} {block.unit1.conv.in_channels}->{first}->{second}"
            if block.dense:
                text += (f" (dense: conv2 sees {block.unit2.conv.in_channels}, features {block.feature_channels},"
                         f" transition 1x1 -> {block.out_channels})")
            channels.append(text)
        return {"parameters": sum(p.numel() for p in self.parameters()),
                "dilations": " ".join(f"{a},{b}" for a, b in self.design.schedule()),
                "blocks": "; ".join(channels)}

