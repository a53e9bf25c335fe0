"""One configurable waveform Demucs for deep priors: the Deep Audio Waveform Prior's network and its ablations.

The waveform Demucs (Défossez et al., v2) as the Deep Audio Waveform Prior paper uses it (Turetzky et al.;
facts from its public code): the input is upsampled x2, then ``depth``
encoder layers Conv1d(kernel 8, stride 4) -> ReLU -> Conv1d(1x1) -> GLU (or ReLU without ``glu``), channels
64, x2 per layer; a sequence model at the bottleneck (a bidirectional LSTM of ``sequence_layers`` layers and a
linear map back to the channels, as Demucs; or self-attention layers, the paper's ablation); decoder layers
Conv1d(kernel ``context`` 3) -> GLU/ReLU -> ConvTranspose1d(kernel 8, stride 4) -> ReLU (none on the last);
then downsampling x2. The convolutions are initialised as Demucs v2 does (``rescale`` 0.1: each weight
tensor's std is moved to sqrt(std x 0.1)). Convolutions are valid, so the output is longer than needed:
``input_length(T)`` is the shortest input whose output covers T samples and ``crop`` takes the centred T. The
U-Net skips (encoder output added to the decoder input, centre-trimmed) are there only with ``skips=True``:
the prior removes them, as the paper does.

``DESIGNS`` names the paper's Table 3 variants as settings of this one network; ``demucs`` is the prior of its
Tables 1-2 as the published script runs it: depth 2, ReLU rewrite convolutions (its ``--glu`` flag is off by
default and the script does not set it), a 4-layer BLSTM; this is also the paper's best Table 3 row, Conv +
LSTM. The attention rows use the public code's layer, PyTorch's ``nn.TransformerEncoderLayer`` (post-norm, 2
heads, feed-forward 2048 with ReLU, dropout 0.1, active during the fit as the script never switches to eval
mode), stacked by ``nn.TransformerEncoder`` (so the layers start equal) and not rescaled; the paper gives no
layer count, so as many as the LSTM has (4). The x2 resampling is a windowed-sinc FIR (scipy.signal.firwin, 64
taps, cut-off at the lower rate's Nyquist), fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import firwin
from torch import nn

SEQUENCES = ("none", "lstm", "attention")


@dataclass(frozen=True)
class WaveDesign:
    depth: int = 2
    channels: int = 64
    growth: int = 2
    kernel: int = 8
    stride: int = 4
    context: int = 3
    glu: bool = True
    skips: bool = False
    sequence: str = "lstm"
    sequence_layers: int = 4
    heads: int = 2
    feedforward: int = 2048
    dropout: float = 0.1
    resample: int = 2
    fir_taps: int = 64
    rescale: float = 0.1  # Demucs v2's initialisation: each conv's weight std moved to sqrt(std x rescale)

    def __post_init__(self):
        if self.sequence not in SEQUENCES:
            raise ValueError(f"sequence must be one of {SEQUENCES}, not {self.sequence!r}")
        if self.depth < 1 or self.resample not in (1, 2):
            raise ValueError("depth must be >= 1 and resample 1 or 2")

    def output_length(self, length: int) -> int:
        """Output samples of the network for an input of ``length`` samples (0: too short)."""
        length *= self.resample
        for _ in range(self.depth):
            length = (length - self.kernel) // self.stride + 1
            if length < self.context:
                return 0
        for _ in range(self.depth):
            length = (length - self.context) * self.stride + self.kernel  # context conv, then transposed conv
        return -(-length // self.resample)

    def input_length(self, samples: int) -> int:
        """The shortest input length whose output covers ``samples`` samples."""
        length = max(1, samples // self.resample)
        while self.output_length(length) < samples:
            length += 1
        return length


# The paper's Table 3 rows (and the prior of its Tables 1-2). The ablation states no depth for the rows
# that add an element; they use depth 2, the published script's (and the paper: Conv + LSTM "works
# better with only 2 layers of convolution").
DESIGNS = {
    "conv2": WaveDesign(depth=2, glu=False, sequence="none"),
    "conv4": WaveDesign(depth=4, glu=False, sequence="none"),
    "conv6": WaveDesign(depth=6, glu=False, sequence="none"),
    "conv-skip": WaveDesign(depth=2, glu=False, sequence="none", skips=True),
    "conv-glu": WaveDesign(depth=2, glu=True, sequence="none"),
    "conv-lstm": WaveDesign(depth=2, glu=False, sequence="lstm"),
    "conv-attention": WaveDesign(depth=2, glu=False, sequence="attention"),
    "conv-glu-lstm": WaveDesign(depth=2, glu=True, sequence="lstm"),
    "conv-glu-attention": WaveDesign(depth=2, glu=True, sequence="attention"),
}
DESIGNS["demucs"] = DESIGNS["conv-lstm"]


def make_design(variant: str = "demucs", **overrides) -> WaveDesign:
    if variant not in DESIGNS:
        raise ValueError(f"unknown waveform Demucs variant {variant!r}; choose one of {', '.join(DESIGNS)}")
    return replace(DESIGNS[variant], **{k: v for k, v in overrides.items() if v is not None})


def _rewrite(channels: int, kernel: int, glu: bool) -> nn.Sequential:
    """Conv1d to 2C then GLU (C out), or to C then ReLU."""
    if glu:
        return nn.Sequential(nn.Conv1d(channels, 2 * channels, kernel), nn.GLU(dim=1))
    return nn.Sequential(nn.Conv1d(channels, channels, kernel), nn.ReLU())


def centre_crop(outputs: torch.Tensor, samples: int) -> torch.Tensor:
    """The centred ``samples`` of the last dimension (a network's output is longer than the clip)."""
    start = (outputs.shape[-1] - samples) // 2
    return outputs[..., start:start + samples]


class Sequence(nn.Module):
    """The bottleneck's sequence model on (B, C, T): a BLSTM + linear, or self-attention layers."""

    def __init__(self, channels: int, design: WaveDesign):
        super().__init__()
        self.kind = design.sequence
        if self.kind == "lstm":
            self.lstm = nn.LSTM(channels, channels, num_layers=design.sequence_layers, bidirectional=True,
                                batch_first=True)
            self.linear = nn.Linear(2 * channels, channels)
        else:
            if channels % design.heads:
                raise ValueError(f"{channels} channels do not split into {design.heads} heads")
            layer = nn.TransformerEncoderLayer(channels, design.heads, design.feedforward, design.dropout,
                                               batch_first=True)
            # TransformerEncoder deep-copies the layer, so its layers start equal, as in the public code
            self.attention = nn.TransformerEncoder(layer, design.sequence_layers, enable_nested_tensor=False)

    def forward(self, x):
        x = x.transpose(1, 2)
        x = self.linear(self.lstm(x)[0]) if self.kind == "lstm" else self.attention(x)
        return x.transpose(1, 2)


class WaveformDemucs(nn.Module):
    """(B, 1, L) noise -> (B, 1, output_length(L)) waveform; see the module docstring."""

    def __init__(self, design: WaveDesign = WaveDesign()):
        super().__init__()
        self.design = d = design
        self.vmappable = d.sequence != "lstm"  # bench.components.fitting.Ensemble: no vmap batching rule for LSTMs
        self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
        inner = 1
        for i in range(d.depth):
            width = d.channels * d.growth ** i
            self.encoder.append(nn.Sequential(nn.Conv1d(inner, width, d.kernel, d.stride), nn.ReLU(),
                                              _rewrite(width, 1, d.glu)))
            last = i == 0
            self.decoder.insert(0, nn.Sequential(_rewrite(width, d.context, d.glu),
                                                 nn.ConvTranspose1d(width, inner, d.kernel, d.stride),
                                                 *(() if last else (nn.ReLU(),))))
            inner = width
        self.sequence = Sequence(inner, d) if d.sequence != "none" else None
        if d.rescale:
            self._rescale_convolutions(d.rescale)
        if d.resample == 2:
            taps = firwin(d.fir_taps + 1, 0.5).astype(np.float32)  # odd length: a centred, zero-phase filter
            self.register_buffer("lowpass", torch.from_numpy(taps).view(1, 1, -1))

    @torch.no_grad()
    def _rescale_convolutions(self, reference: float) -> None:
        """Demucs v2's initialisation (the network the paper takes): divide each convolution's weights and
        bias by sqrt(weight std / reference), which brings the std to sqrt(std x reference): deeper, wider
        convolutions (small default std) get larger weights, so the input reaches the bottleneck."""
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                scale = (module.weight.std() / reference) ** 0.5
                module.weight /= scale
                if module.bias is not None:
                    module.bias /= scale

    # -- lengths ------------------------------------------------------------------------------------------
    def output_length(self, length: int) -> int:
        return self.design.output_length(length)

    def input_length(self, samples: int) -> int:
        return self.design.input_length(samples)

    crop = staticmethod(centre_crop)

    def input_interval(self, first: int, last: int, length: int) -> tuple[int, int]:
        """The input samples (an inclusive range) that output samples ``first..last`` depend on, for an input
        of ``length`` samples (uncropped output indices; designs without skips)."""
        d = self.design
        if d.skips:
            raise NotImplementedError("input_interval follows the path without skips")
        half = d.fir_taps // 2
        if d.resample == 2:  # downsampling: lowpass, then every other sample
            first, last = 2 * first - half, 2 * last + half
        for _ in range(d.depth):  # decoder, last layer first: transposed conv, then the context conv
            first, last = -(-(first - d.kernel + 1) // d.stride), last // d.stride
            last += d.context - 1
        if self.sequence is not None:
            return 0, length - 1  # a bidirectional LSTM or attention sees the whole sequence
        for _ in range(d.depth):  # encoder: strided valid convs
            first, last = first * d.stride, last * d.stride + d.kernel - 1
        if d.resample == 2:  # upsampling: zero-stuffing, then the lowpass
            first, last = -(-(first - half) // 2), (last + half) // 2
        return max(first, 0), min(last, length - 1)

    # -- forward ------------------------------------------------------------------------------------------
    def _upsample(self, x):
        stuffed = torch.stack([x, torch.zeros_like(x)], dim=-1).flatten(-2)  # x0, 0, x1, 0, ... (vmap-safe)
        return 2 * F.conv1d(stuffed, self.lowpass.to(x.dtype), padding=self.design.fir_taps // 2)

    def _downsample(self, x):
        return F.conv1d(x, self.lowpass.to(x.dtype), padding=self.design.fir_taps // 2)[..., ::2]

    def forward(self, x):
        if self.design.resample == 2:
            x = self._upsample(x)
        saved = []
        for layer in self.encoder:
            x = layer(x)
            saved.append(x)
        if self.sequence is not None:
            x = self.sequence(x)
        for layer in self.decoder:
            skip = saved.pop()
            if self.design.skips:
                x = x + self.crop(skip, x.shape[-1])
            x = layer(x)
        if self.design.resample == 2:
            x = self._downsample(x)
        return x

    def describe(self) -> dict:
        return {"parameters": sum(p.numel() for p in self.parameters()), "depth": self.design.depth,
                "glu": self.design.glu, "skips": self.design.skips, "sequence": self.design.sequence,
                "sequence_layers": self.design.sequence_layers if self.design.sequence != "none" else 0,
                **({"heads": self.design.heads, "dropout": self.design.dropout}
                   if self.design.sequence == "attention" else {})}
