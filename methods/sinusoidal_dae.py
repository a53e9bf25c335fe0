"""The sinusoidal denoising auto-encoder of Mimilakis, Drossos and Schuller (2020): ``sinusoidal-dae``.

*Unsupervised interpretable representation learning for singing voice separation* (EUSIPCO 2020), as its
public code (Js-Mim/rl_singing_voice) computes it where the two differ (see the REFERENCE notes):

- Encoder ("conv"): Conv1d(1 -> C, kernel L = 2048, stride S, no bias), then
  ReLU(Conv1d(C -> C, kernel 5, dilation 10, no bias)(h) + h). "sinc": the first stage is SincNet's
  band-pass filters (learnable low cut-off and band width, mel-spaced from 80 Hz; the public code's
  indexing bug that gives every filter one upper cut-off is not reproduced).
- Decoder ("mod-cos", Eq. 4): atoms w_c[t] = cos(2 pi g(f_c) t + phi_c) b_c[t], t = 0..L-1, synthesis by a
  transposed convolution of stride S; g(f) = f^2 (``squared_frequencies``, the paper's and the code's) or
  f. f_c starts mel-spaced from 30 Hz to fs/2 divided by fs (so, squared, the code's starting carriers),
  phi_c ~ N(0, 1), b_c = 1 / (C + L). "cos": one envelope shared by all atoms (the code's
  ``fully_modulated=False``). "conv": a free ConvTranspose1d(C -> 1, L, stride S), ``tanh`` on the output
  or not (Table 1's two rows; the code always applies it).
- ``sort_atoms``: after every optimiser update the atoms are sorted by carrier frequency, and the
  encoder's channels with them (Table 2's experiment); the output does not change (tested).
- Objective: negative SNR over the whole batch of the decoded noisy vocal (std 1e-4 Gaussian noise)
  against the clean vocal, plus lambda x TV of the code of the random remix (``tv_target = "remix"``, A_m)
  or of the noisy vocal ("vocals", A_v). TV as the code: un-squared L2 norms of the first differences
  along frames (over the batch, / T) and along channels (/ C); ``tv = "paper"`` is Eq. 1 as printed
  (l1 norms, / (C T), per segment, mean over the batch).
- Training: 1 s segments with 50 % overlap from four training tracks at a time, vocal and accompaniment
  segments shuffled by two independent permutations within the set (the remix feeds only the TV term),
  batches of 8 (the last one zero-padded, as the code), one scalar mean removed per batch, Adam 1e-4.
  10 epochs as the paper (the code runs 8). ``stop_when_loss_stops_falling = true`` (a training key; Table
  1's "early stopping mechanism") ends the training after the first epoch whose mean negative SNR (Eq. 5,
  the reconstruction term without the TV) did not fall below the previous epoch's.

Evaluation: ``reconstruction`` returns Dec(Enc(x)); ``separation`` returns [Dec(A_mix * M), Dec(A_mix * (1 - M))]
with the oracle binary mask M = A_v / A_b > 0.5 computed from the encodings of the known sources.
Framing as the code: T = ceil(N / S) frames with the signal centred (zero padding either side); the
encoder's convolutions start from Kaiming-uniform weights as the code's. Sorting, as in the code (which
sorts inside the decoder's forward and permutes the code with the atoms), does not change the function
the model computes, so it does not change training either. N_P = 4098 C + 5 C^2 for conv/mod-cos (no
biases anywhere, as the code).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from bench.methods.support.binary_masking import binary_mask, oracle_sources
from torch import nn
from torch.nn import functional as F

from bench.components.method import method
from bench.components.training import TrainedMethod
from bench.core.audio import Estimate, Observation

KERNEL = 2048          # L
DILATED_KERNEL = 5     # L'
DILATION = 10          # D
SAMPLE_RATE = 44100
ENCODERS = ("conv", "sinc")
DECODERS = ("mod-cos", "cos", "conv")
TV_TARGETS = ("remix", "vocals")
TV_FORMS = ("code", "paper")


def mel_spaced(low_hz: float, high_hz: float, n: int) -> np.ndarray:
    """``n`` frequencies equally spaced on the mel scale from ``low_hz`` to ``high_hz``."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    return 700.0 * (10 ** (np.linspace(mel(low_hz), mel(high_hz), n) / 2595.0) - 1.0)


def total_variation(code, form: str = "code"):
    """TV of codes (B, C, T): the public code's (``form="code"``) or Eq. 1 as printed ("paper")."""
    d_frames = code[:, :, 1:] - code[:, :, :-1]
    d_channels = code[:, 1:, :] - code[:, :-1, :]
    channels, frames = code.shape[1], code.shape[2]
    if form == "code":
        return torch.linalg.vector_norm(d_frames) / frames + torch.linalg.vector_norm(d_channels) / channels
    per_segment = d_frames.abs().sum(dim=(1, 2)) + d_channels.abs().sum(dim=(1, 2))
    return (per_segment / (channels * frames)).mean()


def negative_snr(target, estimate, eps: float = 1e-8):
    """-10 log10(||x||^2 / ||x - x_hat||^2), one ratio over the whole batch (as the code)."""
    return -10 * torch.log10((target.pow(2).sum() + eps) / ((target - estimate).pow(2).sum() + eps))


class SincFirstStage(nn.Module):
    """SincNet band-pass filters (Ravanelli & Bengio) as the encoder's first stage."""

    def __init__(self, channels: int, kernel: int, hop: int, sample_rate: int):
        super().__init__()
        edges = mel_spaced(80.0, sample_rate / 2 - 100.0, channels + 1) / sample_rate
        self.low = nn.Parameter(torch.tensor(edges[:-1], dtype=torch.float32))
        self.band = nn.Parameter(torch.tensor(np.diff(edges), dtype=torch.float32))
        self.hop = hop
        self.register_buffer("t", torch.arange(kernel, dtype=torch.float32) - (kernel - 1) / 2, persistent=False)
        self.register_buffer("window", torch.hamming_window(kernel, periodic=False), persistent=False)

    def filters(self):
        low = self.low.abs()
        high = low + self.band.abs()
        band_pass = (2 * high[:, None] * torch.special.sinc(2 * high[:, None] * self.t)
                     - 2 * low[:, None] * torch.special.sinc(2 * low[:, None] * self.t))
        band_pass = band_pass * self.window
        return band_pass / band_pass.abs().amax(dim=1, keepdim=True).clamp_min(1e-8)

    def forward(self, x):
        return F.conv1d(x, self.filters()[:, None, :], stride=self.hop)

    def channel_axes(self):
        return [(self.low, (0,)), (self.band, (0,))]

class Encoder(nn.Module):
    def __init__(self, channels, hop, kind, sample_rate):
        super().__init__()
        if kind == "sinc":
            self.first = SincFirstStage(channels, KERNEL, hop, sample_rate)
        else:
            self.first = nn.Conv1d(1, channels, KERNEL, stride=hop, bias=False)
        self.dilated = nn.Conv1d(channels, channels, DILATED_KERNEL, dilation=DILATION,
                                 padding=DILATION * (DILATED_KERNEL - 1) // 2, bias=False)
        for conv in (self.first, self.dilated):  # the code's initialisation (gain sqrt(2), not torch's)
            if isinstance(conv, nn.Conv1d):
                nn.init.kaiming_uniform_(conv.weight)

    def forward(self, x):  # (B, 1, N + 2P) -> (B, C, T)
        h = self.first(x)
        return F.relu(self.dilated(h) + h)

    def channel_axes(self):
        first = self.first.channel_axes() if isinstance(self.first, SincFirstStage) else [(self.first.weight, (0,))]
        return first + [(self.dilated.weight, (0, 1))]

class SinusoidalDecoder(nn.Module):
    """Eq. 4's atoms; ``shared_envelope`` gives the plain cosine decoder."""

    def __init__(self, channels, hop, squared, shared_envelope, sample_rate):
        super().__init__()
        self.hop, self.squared = hop, squared
        self.frequency = nn.Parameter(torch.tensor(mel_spaced(30.0, sample_rate / 2, channels) / sample_rate,
                                                   dtype=torch.float32))
        self.phase = nn.Parameter(torch.randn(channels))
        self.envelope = nn.Parameter(torch.full((1 if shared_envelope else channels, KERNEL),
                                                1.0 / (channels + KERNEL)))
        self.register_buffer("t", torch.arange(KERNEL, dtype=torch.float32), persistent=False)

    def carriers(self):
        return self.frequency.pow(2) if self.squared else self.frequency

    def atoms(self):  # (C, L)
        return torch.cos(2 * math.pi * self.carriers()[:, None] * self.t + self.phase[:, None]) * self.envelope

    def forward(self, code):
        return F.conv_transpose1d(code, self.atoms()[:, None, :], stride=self.hop)

    def sort_order(self):
        return torch.argsort(self.carriers().detach())

    def channel_axes(self):
        axes = [(self.frequency, (0,)), (self.phase, (0,))]
        return axes + ([(self.envelope, (0,))] if self.envelope.shape[0] > 1 else [])

class ConvDecoder(nn.Module):
    def __init__(self, channels, hop, tanh):
        super().__init__()
        self.synthesis = nn.ConvTranspose1d(channels, 1, KERNEL, stride=hop, bias=False)
        self.tanh = tanh

    def forward(self, code):
        y = self.synthesis(code)
        return torch.tanh(y) if self.tanh else y

class SinusoidalDAE(nn.Module):
    def __init__(self, channels=800, hop=384, encoder="conv", decoder="mod-cos", squared_frequencies=True,
                 tanh=False, sample_rate=SAMPLE_RATE):
        super().__init__()
        self.hop = hop
        self.encoder = Encoder(channels, hop, encoder, sample_rate)
        if decoder == "conv":
            self.decoder = ConvDecoder(channels, hop, tanh)
        else:
            self.decoder = SinusoidalDecoder(channels, hop, squared_frequencies, decoder == "cos", sample_rate)

    def padding(self, length: int) -> tuple[int, int]:
        """The code's framing: T = ceil(N / S) frames, the signal centred in them (zeros either side)."""
        frames = -(-length // self.hop)
        total = frames * self.hop + KERNEL - self.hop - length
        return total // 2, total - total // 2

    def encode(self, x):  # (B, N) -> (B, C, ceil(N / S))
        return self.encoder(F.pad(x[:, None, :], self.padding(x.shape[-1])))

    def decode(self, code, length: int):  # (B, C, T) -> (B, N)
        left = self.padding(length)[0]
        y = self.decoder(code)[:, 0, left:left + length]
        return F.pad(y, (0, length - y.shape[-1]))

    def forward(self, x):
        return self.decode(self.encode(x), x.shape[-1])

    @torch.no_grad()
    def sort_atoms(self, optimizer=None):
        """Sort atoms by carrier frequency, permuting the encoder's channels alike (the output does not
        change), and the optimiser's per-parameter state (Adam's moments) with them."""
        order = self.decoder.sort_order()
        for parameter, axes in self.decoder.channel_axes() + self.encoder.channel_axes():
            tensors = [parameter.data]
            if optimizer is not None:
                tensors += [v for v in optimizer.state.get(parameter, {}).values()
                            if torch.is_tensor(v) and v.shape == parameter.shape]
            for tensor in tensors:
                permuted = tensor
                for axis in axes:
                    permuted = permuted.index_select(axis, order)
                tensor.copy_(permuted)
        return order


def segments(signal, length: int, hop: int):
    """Rows of ``length`` samples every ``hop`` samples (a view; a signal shorter than one row is padded)."""
    if signal.shape[-1] < length:
        signal = torch.nn.functional.pad(signal, (0, length - signal.shape[-1]))
    return signal.unfold(-1, length, hop)


@method("sinusoidal-dae", version="1",
        description="Mimilakis et al. (2020): sinusoidal denoising auto-encoder, trained on singing voice")
class SinusoidalDAEMethod(TrainedMethod):
    """The model of Tables 1 and 2 with its variants as parameters; see the module docstring."""

    tasks = ("reconstruction", "separation")
    # the paper's 100 training tracks: MUSDB18's train split less the musdb package's 14 validation tracks
    # (bench's "train") plus those ("valid")
    training_data = {"tracks": {"dataset": "musdb18", "params": {"clips_per_file": 1}, "split": "train+valid",
                                "seconds": None, "sample_rate": SAMPLE_RATE}}
    # stop_when_loss_stops_falling: Table 1's early stopping, on the epoch's mean of Eq. 5 (the neg-SNR term)
    training_defaults = {"epochs": 10, "batch_size": 8, "lr": 1e-4, "segment_s": 1.0, "overlap": 0.5,
                         "tracks_per_set": 4, "noise_std": 1e-4, "tv_weight": 0.5,
                         "stop_when_loss_stops_falling": False}

    def __init__(self, channels: int = 800, hop: int = 384, encoder: str = "conv", decoder: str = "mod-cos",
                 squared_frequencies: bool = True, tanh: bool = False, sort_atoms: bool = False,
                 tv_target: str = "remix", tv: str = "code"):
        for name, value, allowed in (("encoder", encoder, ENCODERS), ("decoder", decoder, DECODERS),
                                     ("tv_target", tv_target, TV_TARGETS), ("tv", tv, TV_FORMS)):
            if value not in allowed:
                raise ValueError(f"sinusoidal-dae: {name} must be one of {', '.join(allowed)}, not {value!r}")
        if channels < 1 or not 0 < hop <= KERNEL // 2:
            raise ValueError(f"sinusoidal-dae: need channels >= 1 and 0 < hop <= {KERNEL // 2}, "
                             f"not channels={channels}, hop={hop}")
        if sort_atoms and decoder == "conv":
            raise ValueError("sinusoidal-dae: sort_atoms needs a sinusoidal decoder (mod-cos or cos)")
        super().__init__(channels=channels, hop=hop, encoder=encoder, decoder=decoder,
                         squared_frequencies=squared_frequencies, tanh=tanh, sort_atoms=sort_atoms,
                         tv_target=tv_target, tv=tv)
        self.channels, self.hop, self.encoder, self.decoder = channels, hop, encoder, decoder
        self.squared_frequencies, self.tanh, self.sort_atoms = squared_frequencies, tanh, sort_atoms
        self.tv_target, self.tv = tv_target, tv

    def build(self):
        return SinusoidalDAE(self.channels, self.hop, self.encoder, self.decoder, self.squared_frequencies,
                             self.tanh)

    def details(self):
        return {"parameters": self.parameter_count()}

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.build().parameters())

    # -- training ---------------------------------------------------------------------------------------
    def loss(self, model, vocals, remix, protocol, generator=None):
        """(loss, neg-SNR, TV) of one batch: vocals and remix (B, N), the batch mean already removed."""
        noisy = vocals + protocol["noise_std"] * torch.randn(vocals.shape, generator=generator,
                                                             device=vocals.device)
        code_v = model.encode(noisy)
        reconstruction = model.decode(code_v, vocals.shape[-1])
        snr_term = negative_snr(vocals, reconstruction)
        tv_code = model.encode(remix) if self.tv_target == "remix" else code_v
        tv_term = total_variation(tv_code, self.tv)
        return snr_term + protocol["tv_weight"] * tv_term, snr_term, tv_term

    def batches(self, data, context):
        """(vocals, remix) batches of one epoch: sets of four tracks, segments shuffled within a set."""
        p = context.protocol
        source = data["tracks"]
        length = int(round(p["segment_s"] * source.sample_rate))
        step = max(1, int(round(length * (1 - p["overlap"]))))
        order = context.rng.permutation(len(source.items))
        per_set, batch = p["tracks_per_set"], p["batch_size"]
        for start in range(0, len(order), per_set):
            vocals, accompaniment = [], []
            for index in order[start:start + per_set]:
                clip = np.asarray(source.load(source.items[index]).samples, dtype=np.float32)
                if clip.ndim != 2 or clip.shape[0] != 2:
                    raise ValueError(f"sinusoidal-dae: training item {source.items[index]!r} of "
                                     f"{source.dataset.name} has shape {clip.shape}; expected (2, T) "
                                     "[vocals, accompaniment]")
                pieces = segments(torch.from_numpy(clip), length, step)  # (2, n, length)
                vocals.append(pieces[0])
                accompaniment.append(pieces[1])
            vocals, accompaniment = torch.cat(vocals), torch.cat(accompaniment)
            vocals = vocals[torch.from_numpy(context.rng.permutation(len(vocals)))]
            remix = vocals + accompaniment[torch.from_numpy(context.rng.permutation(len(accompaniment)))]
            for first in range(0, len(vocals), batch):
                v, m = vocals[first:first + batch], remix[first:first + batch]
                if len(v) < batch:  # the code pads the last batch with zero rows
                    v, m = (torch.nn.functional.pad(x, (0, 0, 0, batch - len(x))) for x in (v, m))
                yield v - v.mean(), m - m.mean()

    @staticmethod
    def steps_per_epoch(data, protocol) -> int:
        """The most optimiser steps an epoch of ``batches`` takes (each set of tracks ends in a padded batch,
        so the count depends a little on how the epoch groups the tracks): one pass over the clips' lengths."""
        source = data["tracks"]
        length = int(round(protocol["segment_s"] * source.sample_rate))
        hop = max(1, int(round(length * (1 - protocol["overlap"]))))
        total = sum(1 + max(0, source.load(item).samples.shape[-1] - length) // hop for item in source.items)
        sets = math.ceil(len(source.items) / protocol["tracks_per_set"])
        return total // protocol["batch_size"] + sets

    # one-thread CPU seconds per training segment at C = 400, 800, 1600 (README: 16.4, 6.3, 1.6 segments/s,
    # benchmarks/dae_training_speed.py); other C: the quadratic through them
    SECONDS_PER_SEGMENT = ((400, 1 / 16.4), (800, 1 / 6.3), (1600, 1 / 1.6))
    TRACK_SECONDS = 234.0  # a MUSDB18 track's mean length, where the training data does not give one

    def training_cpu_seconds(self, protocol, data) -> float:
        """Estimated CPU time: epochs x training segments (50 % overlap) x seconds per segment at this C."""
        c, rate = zip(*self.SECONDS_PER_SEGMENT)
        per_segment = float(np.polyval(np.polyfit(c, rate, 2), self.channels))
        hop = protocol["segment_s"] * (1 - protocol["overlap"])
        segments = sum(len(source["items"]) * (1 + max(0.0, ((source.get("seconds") or self.TRACK_SECONDS)
                                                              - protocol["segment_s"]) / hop))
                       for source in data.values())
        return protocol["epochs"] * segments * per_segment

    def fit(self, data, context):
        self.model = self.build().to(context.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=context.protocol["lr"])
        steps = self.steps_per_epoch(data, context.protocol)  # so that a long epoch shows its steps
        for _ in context.epochs(self.model, optimizer, steps_per_epoch=steps):
            for vocals, remix in self.batches(data, context):
                loss, snr_term, _ = self.loss(self.model, vocals.to(context.device), remix.to(context.device),
                                              context.protocol)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if self.sort_atoms:
                    self.model.sort_atoms(optimizer)
                context.step(loss, stopping_loss=snr_term)  # the paper stops on Eq. 5's loss alone

    # -- evaluation -------------------------------------------------------------------------------------
    def restore(self, observation: Observation, context) -> Estimate:
        model = self.model
        with torch.no_grad():
            if observation.task == "reconstruction":
                x = torch.as_tensor(observation.signal, device=context.device)[None]
                return Estimate(model(x)[0].cpu().numpy())
            sources = torch.as_tensor(oracle_sources(observation, "sinusoidal-dae"), device=context.device)
            mixture = torch.as_tensor(observation.signal, device=context.device)[None]
            code_mix = model.encode(mixture)
            code_v, code_b = model.encode(sources[0:1]), model.encode(sources[1:2])
            mask = binary_mask(code_v, code_b).to(code_mix.dtype)
            kept = mask.mean().item()
            n = mixture.shape[-1]
            estimate = torch.cat([model.decode(code_mix * mask, n), model.decode(code_mix * (1 - mask), n)])
            return Estimate(estimate.cpu().numpy(), info={"mask_kept": kept})

