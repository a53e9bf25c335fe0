"""Ablations and learning curves of UDT and the supervised VAE (Venkataramani et al. 2019) outside the
harness: does the female estimate beat the mixture, and which choice makes it?

Run: OMP_NUM_THREADS=1 python benchmarks/udt_ablation.py --data synthetic --variant paper --variant mask ...
     OMP_NUM_THREADS=1 python benchmarks/udt_ablation.py --data /path/to/speech-pairs ...

Data: ``synthetic`` (the suite's stand-ins: synthetic-speech female and male voices with the all-pole vocal
tract, as TIMIT's stand-in; ``--tract resonances`` gives version 1's voices; disjoint speaker sets for the
mixtures' voices, the clean examples and the test pairs) or a folder holding ``slt/`` (female) and
``bdl/`` (male) WAV files (CMU ARCTIC in the layout of the project's speech-pairs sample): utterances
1-20 of each make the training mixtures, female utterances 21-40 the unpaired clean examples (UDT), the
rest (41-51) the test pairs, female and male of different sentences. Test mixtures at 0 dB, as the suite's.

A variant is the method's training keys plus the method's own options (see ``VARIANTS``); each is trained
with the method's own ``draw``/``loss_terms``/``network`` (nothing re-implemented here) and scored after
every ``--eval-every`` examples: median female SI-SDR and SIR (BSS Eval v3, the estimate against its own
reference: no permutation) over the test mixtures, for UDT, the supervised VAE and the mixture.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from bench.datasets.synthetic import TRACTS, VOICES, speech_like
from bench.methods.style_transfer_separation import ADAM_BETAS, SupervisedVAESeparation, UDTSeparation, weighted_sum
from bench.methods.support.power_spectrogram import PowerSpectrogram
from fast_bss_eval import bss_eval_sources

SR = 16000
SIZE = {"n_fft": 512, "hop": 128, "snippet_seconds": 1.0, "lr": 1e-3, "batch_size": 8}
VARIANTS = {  # name -> overrides of the method's training keys
    "paper": {"shared_blocks": 1},  # the paper's network (one shared block), UNIT's weights
    "no-cycle": {"shared_blocks": 1, "cycle": 0.0, "cycle_latent": 0.0},
    "lr-1e-4": {"shared_blocks": 1, "lr": 1e-4},
    "cycle-100": {"shared_blocks": 1, "cycle": 100.0},
    "reconstruction-1": {"shared_blocks": 1, "reconstruction": 1.0},
    "share-3": {"shared_blocks": 3},  # every encoder / decoder convolution shared (per-domain batch norms): v2
    "share-3-cycle-100": {"shared_blocks": 3, "cycle": 100.0},
}


def synthetic_pools(seconds: float, count: int, tract: str) -> dict[str, list[np.ndarray]]:
    def voices(voice, n, seed):
        f0, scale = VOICES[voice]
        r = np.random.default_rng(seed)
        return [speech_like(int(seconds * SR), SR, r, f0, scale, tract).astype(np.float32) for _ in range(n)]
    return {"female": voices("female", count, 1), "male": voices("male", count, 2),
            "clean": voices("female", count, 3), "test_female": voices("female", 10, 4),
            "test_male": voices("male", 10, 5)}


def arctic_pools(folder: Path) -> dict[str, list[np.ndarray]]:
    import soundfile
    def read(speaker, first, last):
        out = []
        for k in range(first, last + 1):
            path = folder / speaker / f"arctic_a{k:04d}.wav"
            if path.exists():
                audio, sr = soundfile.read(path, dtype="float32")
                assert sr == SR, (path, sr)
                out.append(audio)
        return out
    test_female, test_male = read("slt", 41, 51), read("bdl", 41, 51)
    return {"female": read("slt", 1, 20), "male": read("bdl", 1, 20), "clean": read("slt", 21, 40),
            "test_female": test_female, "test_male": test_male[1:] + test_male[:1]}  # different sentences


def test_pairs(pools, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(count, 2, T) references (female, male at her energy) and (count, T) mixtures, each the first
    ``seconds`` of the utterances (zero-padded)."""
    length = int(seconds * SR)
    refs = []
    for f, m in zip(pools["test_female"], pools["test_male"]):
        f, m = (np.pad(x, (0, max(0, length - x.size)))[:length].astype(np.float64) for x in (f, m))
        refs.append([f, m * np.sqrt(np.sum(f ** 2) / np.sum(m ** 2))])
    refs = np.asarray(refs)
    return refs, refs.sum(axis=1)


def scores(refs: np.ndarray, female: np.ndarray) -> dict[str, float]:
    """Median female SI-SDR and SIR (no permutation) of estimates (count, T)."""
    si, sir = [], []
    for ref, est in zip(refs, female):
        mixture = ref.sum(axis=0)
        s, e = ref[0], est
        alpha = np.dot(e, s) / np.dot(s, s)
        si.append(10 * np.log10(np.sum((alpha * s) ** 2) / np.sum((alpha * s - e) ** 2)))
        _, sirs, _ = bss_eval_sources(torch.from_numpy(ref), torch.from_numpy(np.stack([est, mixture - est])),
                                      filter_length=512, zero_mean=False, compute_permutation=False,
                                      load_diag=None)  # float64 torch backend, as bench's bss_v3
        sir.append(float(sirs[0]))
    return {"si_sdr": float(np.median(si)), "sir": float(np.median(sir))}


def train_and_score(cls, keys: dict, pools, refs, mixtures, examples: int, eval_every: int, seed: int):
    method = cls()
    protocol = {**cls.training_defaults, **SIZE, **keys}
    method.front = PowerSpectrogram(protocol["n_fft"], protocol["hop"])
    if "shared_blocks" in protocol:
        method.shared_blocks = protocol["shared_blocks"]
    torch.manual_seed(seed)
    model = method.build()
    method.model = model
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol["lr"], betas=ADAM_BETAS,
                                 weight_decay=protocol["weight_decay"])
    weights = {key: protocol[key] for key in set(method.term_groups.values())}
    length = int(protocol["snippet_seconds"] * SR)
    rng = np.random.default_rng(seed)
    draw_pools = {"female": pools["female"], "male": pools["male"], "clean": pools["clean"]}
    curve, seen, start = [], 0, time.process_time()
    for step in range(math.ceil(examples / protocol["batch_size"])):
        model.train()
        waves = method.draw(draw_pools, protocol["batch_size"], length, rng)
        batch = {n: method.front.features(torch.from_numpy(w)) for n, w in waves.items()}
        terms = method.loss_terms(model, batch)
        loss = weighted_sum(terms, weights, method.term_groups)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += protocol["batch_size"]
        if seen % eval_every < protocol["batch_size"] or seen >= examples:
            model.eval()
            point = {"examples": seen, "loss": float(loss.detach()), "cpu_s": time.process_time() - start}
            for label, estimate, path in readouts(model):
                method.estimate = estimate
                with path:
                    female = np.stack([separate(method, m) for m in mixtures])
                point.update({f"{label} {k}": round(v, 2) for k, v in scores(refs, female).items()})
            curve.append(point)
            print(json.dumps({"method": cls.__name__, **curve[-1]}), flush=True)
    return curve


class ThroughClean:
    """Ablation only: separate through the clean VAE (E_t -> D_t) instead of E_s -> D_t."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.model.forward = lambda m: self.model.decode_clean(self.model.encode_clean(m))

    def __exit__(self, *exc):
        del self.model.forward


def readouts(model):
    """(label, estimate, path) of each way of reading a separation out of a trained network."""
    from contextlib import nullcontext
    out = [("spec", "spectrogram", nullcontext()), ("mask", "mask", nullcontext())]
    if hasattr(model, "encode_clean"):
        out += [("Et>Dt mask", "mask", ThroughClean(model))]
    return out


def separate(method, mixture: np.ndarray) -> np.ndarray:
    """The method's own restore path (mask or not), on one mixture."""
    class Observation:
        signal = mixture.astype(np.float32)
        known = {"num_sources": 2}
    class Context:
        device = "cpu"
    return np.asarray(method.restore(Observation, Context).signal[0], dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE training key for every run")
    parser.add_argument("--examples", type=int, default=1600)
    parser.add_argument("--eval-every", type=int, default=400)
    parser.add_argument("--test-seconds", type=float, default=2.0)
    parser.add_argument("--supervised", action="store_true", help="also train the supervised VAE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tract", default="all-pole", choices=sorted(TRACTS),
                        help="--data synthetic: the stand-in voices' vocal tract (default: TIMIT's stand-in's)")
    args = parser.parse_args()
    for item in args.set:
        key, value = item.split("=", 1)
        SIZE[key] = json.loads(value)
    pools = synthetic_pools(args.test_seconds, 40, args.tract) if args.data == "synthetic" \
        else arctic_pools(Path(args.data))
    refs, mixtures = test_pairs(pools, args.test_seconds)
    print(json.dumps({"method": "mixture", **scores(refs, mixtures)}), flush=True)
    for name in args.variant or ["paper"]:
        if name == "none":  # the supervised VAE alone
            continue
        print(f"# UDT variant {name}: {VARIANTS[name]}", flush=True)
        train_and_score(UDTSeparation, VARIANTS[name], pools, refs, mixtures, args.examples, args.eval_every,
                        args.seed)
    if args.supervised:
        train_and_score(SupervisedVAESeparation, {}, pools, refs, mixtures, args.examples, args.eval_every,
                        args.seed)


if __name__ == "__main__":
    main()
