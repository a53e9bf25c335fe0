"""The networks of Venkataramani et al. (2019), Section 3.1: convolutional VAEs over time on power-law
spectrograms, as the two cycle-consistent VAEs of UDT and as the supervised denoising VAE.

An encoder is three blocks of a Conv1d over time (``channels`` in and out: the frequency coefficients,
kernel 5, "same" padding), softplus, batch norm and dropout 0.3; its last block's output is the latent h.
A decoder is three such blocks with ConvTranspose1d. Two choices the paper leaves open, stated here:
- the decoder's last block ends at its softplus (no batch norm, no dropout): its output is the estimated
  spectrogram, a non-negative magnitude, and dropout there would zero 30 % of the estimated bins;
- the shared layers of UDT (the encoders' last and the decoders' first, "share their weights") are the
  convolutions: one Conv1d and one ConvTranspose1d module used by both domains; each domain keeps its own
  batch norm, whose running statistics would otherwise average the mixture and clean-speech domains.
  ``shared_blocks`` (UDT's training key of that name) shares more: 3 makes every convolution one module
  for both domains, which then differ only in their batch norms (UDT's version 2, see
  style_transfer_separation).
The reparameterisation adds N(0, I) to h in training (z = h + e, UNIT's "reduced VAE"); in eval mode z = h.
"""
from __future__ import annotations

import torch
from torch import nn

KERNEL = 5
DROPOUT = 0.3
BLOCKS = 3


class Block(nn.Module):
    """conv -> softplus [-> batch norm -> dropout]; ``conv`` may be a module another block also uses."""

    def __init__(self, conv: nn.Module, channels: int, dropout: float = DROPOUT, output: bool = False):
        super().__init__()
        self.conv = conv
        self.post = nn.Identity() if output else nn.Sequential(nn.BatchNorm1d(channels), nn.Dropout(dropout))

    def forward(self, x):
        return self.post(nn.functional.softplus(self.conv(x)))


def conv(channels: int) -> nn.Conv1d:
    return nn.Conv1d(channels, channels, KERNEL, padding=KERNEL // 2)


def transposed_conv(channels: int) -> nn.ConvTranspose1d:
    return nn.ConvTranspose1d(channels, channels, KERNEL, padding=KERNEL // 2)


def encoder(channels: int, last: nn.Module | list | None = None) -> nn.Sequential:
    """Three conv blocks; ``last``: the convolution of the final block (shared), or a list of the final
    blocks' convolutions, else new ones."""
    last = [] if last is None else last if isinstance(last, list) else [last]
    convs = [conv(channels) for _ in range(BLOCKS - len(last))] + last
    return nn.Sequential(*(Block(c, channels) for c in convs))


def decoder(channels: int, first: nn.Module | list | None = None) -> nn.Sequential:
    """Three transposed-conv blocks; ``first``: the convolution of the first block (shared), or a list of
    the first blocks' convolutions, else new ones."""
    first = [] if first is None else first if isinstance(first, list) else [first]
    convs = first + [transposed_conv(channels) for _ in range(BLOCKS - len(first))]
    return nn.Sequential(*(Block(c, channels, output=k == BLOCKS - 1) for k, c in enumerate(convs)))


def sample_latent(h: torch.Tensor, training: bool) -> torch.Tensor:
    """z = h + N(0, I) while training (the reparameterisation), h itself in eval mode."""
    return h + torch.randn_like(h) if training else h


class SpectrogramNet(nn.Module):
    """Base: ``forward(mixture features) -> clean features`` and the front end's settings in the state dict
    (``_extra_state``), so a trained file says which STFT it was trained on."""

    def __init__(self, channels: int, front: dict):
        super().__init__()
        self.channels, self.front = channels, dict(front)

    def get_extra_state(self):
        return {"channels": self.channels, **self.front}

    def set_extra_state(self, state):
        if int(state["channels"]) != self.channels:
            raise ValueError(f"trained network has {state['channels']} channels, this one {self.channels}")
        self.front = {k: v for k, v in state.items() if k != "channels"}


class CycleVAEs(SpectrogramNet):
    """UDT's two VAEs: mixture domain (E_s, D_s) and clean-source domain (E_t, D_t), sharing the encoders'
    last convolution and the decoders' first."""

    def __init__(self, channels: int, front: dict, shared_blocks: int = 1):
        super().__init__(channels, front)
        if not 1 <= shared_blocks <= BLOCKS:
            raise ValueError(f"shared_blocks must be between 1 and {BLOCKS}, not {shared_blocks}")
        self.shared_blocks = shared_blocks
        self.shared_encoder_conv = conv(channels)
        self.shared_decoder_conv = transposed_conv(channels)
        # the encoders' last ``shared_blocks`` and the decoders' first ``shared_blocks`` convolutions are one
        # module for both domains: the paper shares one of each (1), UDT's version 2 every one (3)
        extra_encoder = [conv(channels) for _ in range(shared_blocks - 1)]
        extra_decoder = [transposed_conv(channels) for _ in range(shared_blocks - 1)]
        shared_encoder, shared_decoder = extra_encoder + [self.shared_encoder_conv], \
            [self.shared_decoder_conv] + extra_decoder
        self.encode_mixture = encoder(channels, last=shared_encoder)
        self.encode_clean = encoder(channels, last=shared_encoder)
        self.decode_mixture = decoder(channels, first=shared_decoder)
        self.decode_clean = decoder(channels, first=shared_decoder)

    def get_extra_state(self):
        return {**super().get_extra_state(), "shared_blocks": self.shared_blocks}

    def set_extra_state(self, state):
        state = dict(state)
        blocks = int(state.pop("shared_blocks", 1))  # a version-1 file shares one block
        if blocks != self.shared_blocks:
            raise ValueError(f"trained network shares {blocks} blocks, this one {self.shared_blocks}")
        super().set_extra_state(state)

    def forward(self, mixture):
        """Separation: the mixture through the mixture encoder and the clean decoder (E_s -> D_t)."""
        return self.decode_clean(sample_latent(self.encode_mixture(mixture), self.training))


class DenoisingVAE(SpectrogramNet):
    """The supervised counterpart: one encoder and one decoder of the same architecture, mixture in,
    clean source out."""

    def __init__(self, channels: int, front: dict):
        super().__init__(channels, front)
        self.encode = encoder(channels)
        self.decode = decoder(channels)

    def forward(self, mixture):
        return self.decode(sample_latent(self.encode(mixture), self.training))
