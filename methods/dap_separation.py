"""Two-source separation with deep audio priors, after Tian et al.'s Deep Audio Prior and Double-DIP.

Narayanaswamy et al. (2021, Section 4.3) fit two source priors and one mask prior to a single mixture and
write the mixture as m * s1 + (1 - m) * s2, "adopting the loss functions" of Tian et al. (2019). Here each
prior is a spectral U-Net (methods/networks/spectral_unet.py; any design: ``prior`` for the sources, ``mask_prior``
for the mask, by default the same) with its own fixed N(0, 1) input, fitted jointly with Adam. The
returned sources are the masked estimates m * s1 and (1 - m) * s2 (inverse STFT), so they sum to the
fitted mixture exactly; with ``consistency=True`` the residual between the observed and the fitted
mixture is shared out by the masks (mixture consistency), so they sum to the observed mixture.

Loss (per problem; terms and weights as in Tian et al.'s released code, on this harness's STFT):
- reconstruction: L1 between the fitted mixture and the mixture's STFT (real and imaginary parts);
- smoothness: L1 of the temporal differences of each unmasked source's magnitude (weight 1);
- exclusion: for 3 scales (2x2 average pooling between them) and both axes, mean(g1^2 g2^2)^(1/4) of the
  squashed gradients g = 2 sigmoid(grad) - 1 of the two masked sources' magnitudes, averaged (weight 1;
  the released code divides by 9 per scale, a leftover of 3-channel images: the intent, a mean, is used);
- non-zero mask, independent masks only: mean of clamp(log1p |X|, 0, 1) / (clamp(m1 + m2, max 1) + 1e-6);
- binarisation: 0.01 x mean over masks of 1 / (1e-6 + mean |m - 0.5|), in the last 10 % of iterations.

Variants (``masks``, ``mask_shape``, ``sources``): the paper's form is one complementary time-frequency
mask over complex (real/imaginary) sources. ``dap-separation-tian`` registers Tian et al.'s form: two
independent masks, each a per-frame gate (the mask net's output averaged over frequency, then a sigmoid),
over non-negative magnitude sources that take the mixture's phase (softplus, not Tian's ReLU, makes the
magnitudes non-negative: a ReLU output that starts negative everywhere never recovers, which Tian et al.
handle by restarting the run). It keeps this harness's STFT, U-Net
priors, inputs and protocol, not Tian et al.'s 11 kHz audio, segment batching, dynamic noise inputs or
restarts.
"""
from __future__ import annotations

import torch
from bench.methods.networks.spectral_unet import SpectralUNet, make_design
from torch import nn
from torch.nn import functional as F

from bench.components.fitting import FittedPrior, Problems, Schedule
from bench.components.method import method
from bench.core.stft import SpectralFrame

_EPS = 1e-6


class SeparationPriors(nn.Module):
    """Two source priors and one or two mask priors: input (N, priors, 2, bins, frames) -> (N, C, bins, frames).

    Output channels: source 1 and source 2 (2 channels each for complex sources, 1 for magnitudes), then
    one mask logit channel per mask.
    """

    def __init__(self, source_design, mask_design, source_channels: int, masks: int):
        super().__init__()
        self.sources = nn.ModuleList(SpectralUNet(source_design, out_channels=source_channels) for _ in range(2))
        self.masks = nn.ModuleList(SpectralUNet(mask_design, out_channels=1) for _ in range(masks))

    @property
    def priors(self) -> int:
        return len(self.sources) + len(self.masks)

    def forward(self, z):
        nets = [*self.sources, *self.masks]
        return torch.cat([net(z[:, k]) for k, net in enumerate(nets)], dim=1)


class DAPSeparation(FittedPrior):
    """Two-source separation: two source priors and a mask prior, mixture = m s1 + (1 - m) s2 (Narayanaswamy et al.)."""

    tasks = ("separation",)
    default_masks, default_mask_shape, default_sources = "complementary", "time-frequency", "complex"

    def __init__(self, prior: str = "exp-dense", mask_prior: str | None = None, layout: str = "paper",
                 masks: str | None = None, mask_shape: str | None = None, sources: str | None = None,
                 consistency: bool = False, binary_after: float = 0.9, weights: dict | None = None,
                 precision: str = "auto"):
        masks, mask_shape = masks or self.default_masks, mask_shape or self.default_mask_shape
        sources = sources or self.default_sources
        super().__init__(precision=precision, prior=prior, mask_prior=mask_prior, layout=layout, masks=masks,
                         mask_shape=mask_shape, sources=sources, consistency=consistency,
                         binary_after=binary_after, weights=weights)
        for name, value, allowed in (("masks", masks, ("complementary", "independent")),
                                     ("mask_shape", mask_shape, ("time-frequency", "temporal")),
                                     ("sources", sources, ("complex", "magnitude"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        self.source_design = make_design(prior, layout=layout)
        self.mask_design = make_design(mask_prior or prior, layout=layout)
        self.masks, self.mask_shape, self.sources = masks, mask_shape, sources
        self.consistency, self.binary_after = bool(consistency), float(binary_after)
        self.weights = {"reconstruction": 1.0, "smoothness": 1.0, "exclusion": 1.0, "nonzero_mask": 1.0,
                        "binary": 0.01, **(weights or {})}
        self.frame = SpectralFrame()

    def network(self):
        return SeparationPriors(self.source_design, self.mask_design, 2 if self.sources == "complex" else 1,
                                1 if self.masks == "complementary" else 2)

    def details(self) -> dict:
        net = self.network()
        source, mask = net.sources[0].describe(), net.masks[0].describe()
        return {"priors": f"2 x {self.source_design_name()} (sources, {self.sources}) + {len(net.masks)} x "
                          f"{self.mask_design_name()} (mask, {self.mask_shape}, {self.masks})",
                "parameters": sum(p.numel() for p in net.parameters()),
                "source prior parameters": source["parameters"], "source prior dilations": source["dilations"],
                "mask prior parameters": mask["parameters"], "mask prior dilations": mask["dilations"],
                "loss weights": self.weights}

    def source_design_name(self) -> str:
        return self.params["prior"]

    def mask_design_name(self) -> str:
        return self.params["mask_prior"] or self.params["prior"]

    def input_shape(self, observation):
        return (2 + (1 if self.masks == "complementary" else 2), *self.frame.shape(observation.signal.shape[-1]))

    def problem_tensors(self, observation):
        if observation.signal.ndim != 1:
            raise ValueError(f"separation takes a single mixture (T,), got shape {observation.signal.shape}")
        sources = int(observation.known.get("num_sources", 2) or 2)
        if sources != 2:
            raise ValueError(f"{self.registered_name} separates two sources, not {sources}")
        signal = torch.from_numpy(observation.signal.copy())
        return {"signal": signal, "spectrogram": self.frame.analyse(signal)}

    # -- decoding the networks' outputs ------------------------------------------------------------------
    def decode(self, outputs, mixture):
        """(sources (B, 2 sources, 2, bins, frames) unmasked, masks (B, 2, 1, bins, frames), magnitudes)."""
        if self.sources == "complex":
            s = outputs[:, :4].unflatten(1, (2, 2))
            magnitudes = torch.sqrt(s.pow(2).sum(2) + _EPS)
        else:
            magnitudes = F.softplus(outputs[:, :2])
            phase = mixture / torch.sqrt(mixture.pow(2).sum(1, keepdim=True) + _EPS)
            s = magnitudes[:, :, None] * phase[:, None]
        logits = outputs[:, -(1 if self.masks == "complementary" else 2):]
        if self.mask_shape == "temporal":
            logits = logits.mean(dim=2, keepdim=True).expand_as(logits)
        m = torch.sigmoid(logits)
        masks = torch.cat([m, 1 - m], dim=1) if self.masks == "complementary" else m
        return s, masks[:, :, None], magnitudes

    def estimates(self, outputs, mixture):
        s, masks, _ = self.decode(outputs, mixture)
        estimates = masks * s
        if self.consistency:
            share = masks / (masks.sum(1, keepdim=True) + 1e-8)
            estimates = estimates + share * (mixture[:, None] - estimates.sum(1, keepdim=True))
        return estimates

    def objective(self, outputs, problems: Problems, step: int, schedule: Schedule):
        mixture = problems.tensors["spectrogram"]
        s, masks, magnitudes = self.decode(outputs, mixture)
        estimates = masks * s
        w = self.weights
        loss = w["reconstruction"] * (estimates.sum(1) - mixture).abs().mean((1, 2, 3))
        loss = loss + w["smoothness"] * (magnitudes[..., 1:] - magnitudes[..., :-1]).abs().mean((1, 2, 3))
        masked_magnitudes = masks[:, :, 0] * magnitudes
        loss = loss + w["exclusion"] * exclusion(masked_magnitudes[:, 0:1], masked_magnitudes[:, 1:2])
        if self.masks == "independent":
            weight = torch.log1p(torch.sqrt(mixture.pow(2).sum(1) + _EPS)).clamp(0, 1)
            total = masks[:, :, 0].sum(1).clamp(max=1.0)
            loss = loss + w["nonzero_mask"] * (weight / (total + _EPS)).mean((1, 2))
        if step >= self.binary_after * schedule.iterations:
            spread = (masks[:, :, 0] - 0.5).abs().mean((2, 3))  # (B, masks)
            loss = loss + w["binary"] * (1.0 / (_EPS + spread)).mean(1)
        return loss

    def signals(self, outputs, problems: Problems):
        estimates = self.estimates(outputs, problems.tensors["spectrogram"])
        return self.frame.synthesise(estimates, problems.tensors["signal"].shape[-1])


def exclusion(a: torch.Tensor, b: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Exclusion loss (Zhang et al. 2018, as Double-DIP and Deep Audio Prior use it) of (B, 1, H, W) maps, per problem."""
    terms = []
    for level in range(levels):
        for axis in (2, 3):
            ga = 2 * torch.sigmoid(torch.diff(a, dim=axis)) - 1
            gb = 2 * torch.sigmoid(torch.diff(b, dim=axis)) - 1
            terms.append(((ga**2 * gb**2).mean((1, 2, 3)) + 1e-8) ** 0.25)
        if level + 1 < levels:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return torch.stack(terms).mean(0)


@method("dap-separation", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class DAPSeparationPaper(DAPSeparation):
    """Two source priors and a mask prior, mixture = m s1 + (1 - m) s2, Deep Audio Prior losses (Narayanaswamy et al. 2021)."""


@method("dap-separation-tian", version="2")  # 2: auto = bf16 on CPUs with native bf16; group norm
class DAPSeparationTian(DAPSeparation):
    """Tian et al.'s Deep Audio Prior form: two per-frame gate masks over magnitude sources with the mixture's phase."""

    default_masks, default_mask_shape, default_sources = "independent", "temporal", "magnitude"
