"""Venkataramani, Tzinis and Smaragdis, "A style transfer approach to source separation" (WASPAA 2019):
unsupervised domain translation (UDT) from the domain of two-speaker mixtures to the domain of clean
female speech, and the supervised denoising VAE it is compared with. No code was published; this follows
the text (Sections 3-4) and, where it is silent, the UNIT code it builds on (Liu et al. 2017).

Both estimate the female voice of a male + female mixture: power-law spectrogram features
(``power_spectrogram``), a network (``spectrogram_vaes``), the estimate's features raised back to
magnitudes, the mixture's phase, inverse STFT. A separation cell's reference is (female, male), so the
estimate is (female estimate, mixture - female estimate).

Version 2 reads the estimate out as a ratio mask of the mixture (parameter ``estimate = "mask"``, the
default): |estimate| / |mixture| clipped to [0, 1], times the mixture's STFT, i.e. min(|estimate|, |mixture|)
with the mixture's phase, a common choice for spectrogram separators; ``estimate = "spectrogram"`` is the
paper's literal reading (version 1's). In the ablations (README, "UDT: what we found";
benchmarks/udt_ablation.py) the mask adds 1 to 1.5 dB of female SI-SDR to UDT and 0.5 to 2.5 dB to the
supervised VAE; alone it does not make UDT beat the mixture at a CPU scale (``shared_blocks`` does, below).

Training data (``training_data``), as the paper: mixtures of a random female and a random male TIMIT DR1
speaker at 0 dB, random 2 s snippets, drawn anew every epoch (``speaker_mixtures``); for UDT also clean
snippets of the female DR2 speakers, unpaired with the mixtures. UDT never sees the female snippet a
mixture was made of; the supervised VAE trains on exactly those pairs.

UDT's cost (Section 3.2), each term an MSE or a mean square, weighted as UNIT's defaults (the paper gives
no weights; training keys of the same names):
- ``reconstruction`` 10: |D_s(z_s) - M|^2 and |D_t(z_t) - C|^2 (z = E(.) + N(0, I));
- ``latent`` 0.01: the l2 ("KL") term on the encoder outputs, mean(E_s(M)^2) and mean(E_t(C)^2);
- ``cycle`` 10: straight E_s(D_s(z_s)) vs E_s(M), E_t(D_t(z_t)) vs E_t(C), and cross E_t(D_t(z_s)) vs
  E_s(M), E_s(D_s(z_t)) vs E_t(C) (the four identities of Section 3.2.2, on the latents as the paper has
  them; UNIT compares images instead). Both sides carry gradients;
- ``cycle_latent`` 0.01: the l2 term on the four cycle encodings (UNIT's cycle KL weight).
``shared_blocks`` 3 (version 2; the paper: 1): how many of the encoders' last and the decoders' first
convolutions both domains share. With the paper's one, the mixture encoder E_s must encode the male voice
for D_s's reconstruction and the cross-cycle identity keeps it in the translation (UNIT's GAN terms, which
would push the translation into the clean domain, are dropped): UDT stays below the mixture at a CPU scale
(README, "UDT: what we found"). With every convolution shared the two domains differ only in their batch
norms, and E_s -> D_t beats the mixture on real speech after a few hundred examples.
UNIT's GAN terms are dropped, as the paper drops them. Optimiser as UNIT: Adam, betas (0.5, 0.999), weight
decay 1e-4; learning rate 1e-4. The paper gives neither batch size nor training length: 100 epochs of 512
examples in batches of 8 (``epochs``, ``examples_per_epoch``, ``batch_size``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from bench.methods.networks.spectrogram_vaes import CycleVAEs, DenoisingVAE, sample_latent
from bench.methods.support.power_spectrogram import PowerSpectrogram
from bench.methods.support.speaker_mixtures import clean_snippets, mixture_pairs, mono_pool

from bench.components.method import method
from bench.components.training import TrainedMethod
from bench.core.audio import Estimate

TIMIT_DR1 = {"dataset": "timit", "split": "train", "seconds": None}
MIXTURE_SOURCES = {  # the speakers the mixtures are made of (TIMIT DR1)
    "mixture_female": {**TIMIT_DR1, "params": {"gender": "F", "dialect_regions": ["DR1"]}},
    "mixture_male": {**TIMIT_DR1, "params": {"gender": "M", "dialect_regions": ["DR1"]}},
}
CLEAN_SOURCE = {  # UDT's unpaired clean examples (TIMIT DR2 female speakers)
    "clean_female": {"dataset": "timit", "split": "train", "seconds": None,
                     "params": {"gender": "F", "dialect_regions": ["DR2"]}},
}

TRAINING = {"epochs": 100, "examples_per_epoch": 512, "batch_size": 8, "lr": 1e-4, "weight_decay": 1e-4,
            "n_fft": 2048, "hop": 16, "snippet_seconds": 2.0, "reconstruction": 10.0, "latent": 0.01}
ADAM_BETAS = (0.5, 0.999)  # UNIT's
SHARED_BLOCKS = 3  # UDT's convolutions shared between the domains' encoders / decoders (the paper: 1)
ESTIMATES = ("mask", "spectrogram")  # how the female voice is read out of the network's output (restore)


def weighted_sum(terms: dict[str, torch.Tensor], weights: dict[str, float], groups: dict[str, str]) -> torch.Tensor:
    """sum over terms of weights[groups[term]] * term."""
    return sum(weights[groups[name]] * value for name, value in terms.items())


class SpectrogramVAEMethod(TrainedMethod):
    """What UDT and the supervised VAE share: the front end, the training loop, the separation."""

    tasks = ("separation",)
    training_defaults = TRAINING
    term_groups: dict[str, str] = {}  # loss term -> the training key holding its weight

    front = PowerSpectrogram()

    def __init__(self, estimate: str = "mask"):
        if estimate not in ESTIMATES:
            raise ValueError(f"{type(self).__name__}: estimate must be one of {', '.join(ESTIMATES)}, not {estimate!r}")
        super().__init__(estimate=estimate)
        self.estimate = estimate

    def network(self, channels: int, front: dict) -> torch.nn.Module:
        raise NotImplementedError

    def draw(self, pools: dict, count: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One batch of waveforms (name -> (count, length)) from the training pools."""
        raise NotImplementedError

    def pools(self, data) -> dict[str, list[np.ndarray]]:
        raise NotImplementedError

    def loss_terms(self, model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The loss terms (name -> scalar) of a batch of features (name -> (count, channels, frames))."""
        raise NotImplementedError

    # CPU seconds of one training example per channel^2 x frame (every layer is a channels x channels
    # convolution over the frames), one thread: measured at 256 channels, 126 frames (window 512, hop 128,
    # 1 s snippets; benchmarks/udt_ablation.py over 1,600 examples: 0.115 s per UDT example, 0.027 s per
    # supervised one)
    cpu_seconds_per_channel2_frame = 0.0

    def training_cpu_seconds(self, protocol, data) -> float:
        """Estimated CPU time of a training under ``protocol``: examples x channels^2 x frames x the rate."""
        front = PowerSpectrogram(protocol["n_fft"], protocol["hop"])
        frames = front.frames(int(protocol["snippet_seconds"] * 16000))  # the paper's (TIMIT's) 16 kHz
        return (protocol["epochs"] * protocol["examples_per_epoch"] * front.coefficients ** 2 * frames
                * self.cpu_seconds_per_channel2_frame)

    def build(self):
        return self.network(self.front.coefficients, self.front.as_dict())

    def fit(self, data, context):
        protocol = context.protocol
        self.front = PowerSpectrogram(protocol["n_fft"], protocol["hop"])
        if "shared_blocks" in self.training_defaults:
            self.shared_blocks = protocol["shared_blocks"]
        self.model = self.build().to(context.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=protocol["lr"], betas=ADAM_BETAS,
                                     weight_decay=protocol["weight_decay"])
        pools = self.pools(data)
        sample_rate = next(iter(data.values())).sample_rate
        length = int(round(protocol["snippet_seconds"] * sample_rate))
        batch_size = protocol["batch_size"]
        steps = max(1, math.ceil(protocol["examples_per_epoch"] / batch_size))
        weights = {key: protocol[key] for key in set(self.term_groups.values())}
        for _epoch in context.epochs(self.model, optimizer, steps_per_epoch=steps):
            for _ in range(steps):
                waves = self.draw(pools, batch_size, length, context.rng)
                batch = {name: self.front.features(torch.from_numpy(w).to(context.device))
                         for name, w in waves.items()}
                loss = weighted_sum(self.loss_terms(self.model, batch), weights, self.term_groups)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                context.step(loss)

    def model_from_state(self, weights):
        extra = dict(weights["_extra_state"])  # the STFT the network was trained on (training keys)
        extra.pop("channels")
        self.shared_blocks = int(extra.pop("shared_blocks", 1))  # UDT's; absent from the supervised net's
        self.front = PowerSpectrogram(**extra)
        return super().model_from_state(weights)

    def restore(self, observation, context):
        sources = int(observation.known.get("num_sources", 2) or 2)
        if sources != 2:
            raise ValueError(f"{type(self).__name__} estimates one voice of a two-source mixture; the observation "
                             f"has {sources} sources")
        device = next((p.device for p in self.model.parameters()), torch.device(context.device))
        mixture = torch.from_numpy(np.asarray(observation.signal, dtype=np.float32)).to(device)
        spec = self.front.stft(mixture)
        with torch.no_grad():
            mixture_features = self.front.features(mixture)
            features = self.model(mixture_features[None])[0]
            if self.estimate == "mask":  # |estimate| / |mixture| clipped to [0, 1], times the mixture's STFT
                features = torch.minimum(features, mixture_features)  # (the same: min(|estimate|, |mixture|))
            female = self.front.waveform(features, spec, mixture.shape[-1])
        female = female.cpu().numpy()
        return Estimate(np.stack([female, observation.signal - female]),
                        info={"sources": ["female (estimated)", "mixture - female estimate"]})

    def details(self):
        with torch.device("meta"):  # counted, not allocated
            model = self.network(self.front.coefficients, self.front.as_dict())
        return {"parameters (paper size)": sum(p.numel() for p in model.parameters()),
                "front end": self.front.as_dict()}


@method("udt-separation", version="2")
class UDTSeparation(SpectrogramVAEMethod):
    """Unsupervised domain translation (Venkataramani et al. 2019): two cycle-consistent VAEs, mixtures and
    unpaired clean female speech, mixture encoder -> clean decoder at inference."""

    training_data = {**MIXTURE_SOURCES, **CLEAN_SOURCE}
    training_defaults = {**TRAINING, "cycle": 10.0, "cycle_latent": 0.01, "shared_blocks": SHARED_BLOCKS}
    shared_blocks = SHARED_BLOCKS
    cpu_seconds_per_channel2_frame = 0.115 / (256 ** 2 * 126)
    term_groups = {"reconstruction_mixture": "reconstruction", "reconstruction_clean": "reconstruction",
                   "latent_mixture": "latent", "latent_clean": "latent",
                   "cycle_straight_mixture": "cycle", "cycle_straight_clean": "cycle",
                   "cycle_cross_mixture": "cycle", "cycle_cross_clean": "cycle",
                   "cycle_latent": "cycle_latent"}

    def network(self, channels, front):
        return CycleVAEs(channels, front, self.shared_blocks)

    def pools(self, data):
        return {"female": mono_pool(data["mixture_female"]), "male": mono_pool(data["mixture_male"]),
                "clean": mono_pool(data["clean_female"])}

    def draw(self, pools, count, length, rng):
        mixtures, _ = mixture_pairs(pools["female"], pools["male"], count, length, rng)  # never the paired female
        return {"mixture": mixtures, "clean": clean_snippets(pools["clean"], count, length, rng)}

    def loss_terms(self, model, batch):
        return translation_terms(batch["mixture"], batch["clean"], translation_paths(model, batch["mixture"],
                                                                                     batch["clean"]))


def translation_paths(model: CycleVAEs, mixture: torch.Tensor, clean: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every path of Section 3.1 and the cycle encodings of Section 3.2.2, named by what they compute."""
    h_s, h_t = model.encode_mixture(mixture), model.encode_clean(clean)  # E_s(M), E_t(C)
    z_s, z_t = sample_latent(h_s, model.training), sample_latent(h_t, model.training)
    paths = {"h_s": h_s, "h_t": h_t,
             "D_s(z_s)": model.decode_mixture(z_s),  # mixture reconstruction
             "D_t(z_t)": model.decode_clean(z_t),  # clean reconstruction
             "D_t(z_s)": model.decode_clean(z_s),  # the separation path
             "D_s(z_t)": model.decode_mixture(z_t)}  # a dummy mixture holding C
    paths["E_s(D_s(z_s))"] = model.encode_mixture(paths["D_s(z_s)"])
    paths["E_t(D_t(z_t))"] = model.encode_clean(paths["D_t(z_t)"])
    paths["E_t(D_t(z_s))"] = model.encode_clean(paths["D_t(z_s)"])
    paths["E_s(D_s(z_t))"] = model.encode_mixture(paths["D_s(z_t)"])
    return paths


CYCLE_ENCODINGS = ("E_s(D_s(z_s))", "E_t(D_t(z_t))", "E_t(D_t(z_s))", "E_s(D_s(z_t))")


def translation_terms(mixture: torch.Tensor, clean: torch.Tensor, p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """UDT's loss terms (unweighted): each is zero exactly when its identity holds."""
    return {"reconstruction_mixture": F.mse_loss(p["D_s(z_s)"], mixture),
            "reconstruction_clean": F.mse_loss(p["D_t(z_t)"], clean),
            "latent_mixture": p["h_s"].pow(2).mean(),
            "latent_clean": p["h_t"].pow(2).mean(),
            "cycle_straight_mixture": F.mse_loss(p["E_s(D_s(z_s))"], p["h_s"]),
            "cycle_straight_clean": F.mse_loss(p["E_t(D_t(z_t))"], p["h_t"]),
            "cycle_cross_mixture": F.mse_loss(p["E_t(D_t(z_s))"], p["h_s"]),
            "cycle_cross_clean": F.mse_loss(p["E_s(D_s(z_t))"], p["h_t"]),
            "cycle_latent": sum(p[name].pow(2).mean() for name in CYCLE_ENCODINGS)}


@method("supervised-vae-separation", version="2")
class SupervisedVAESeparation(SpectrogramVAEMethod):
    """The supervised upper bound of Venkataramani et al. (2019): a denoising VAE of the same encoder and
    decoder, trained on the DR1 mixtures paired with their female snippets."""

    training_data = dict(MIXTURE_SOURCES)
    term_groups = {"reconstruction": "reconstruction", "latent": "latent"}
    cpu_seconds_per_channel2_frame = 0.027 / (256 ** 2 * 126)

    def network(self, channels, front):
        return DenoisingVAE(channels, front)

    def pools(self, data):
        return {"female": mono_pool(data["mixture_female"]), "male": mono_pool(data["mixture_male"])}

    def draw(self, pools, count, length, rng):
        mixtures, female = mixture_pairs(pools["female"], pools["male"], count, length, rng)
        return {"mixture": mixtures, "target": female}

    def loss_terms(self, model, batch):
        h = model.encode(batch["mixture"])
        estimate = model.decode(sample_latent(h, model.training))
        return {"reconstruction": F.mse_loss(estimate, batch["target"]), "latent": h.pow(2).mean()}
