"""How far bf16 moves a spectral prior's results from float32, on real speech: oracle and final SNR.

Run: python benchmarks/precision_tolerance.py --samples DIR [--seconds 0.128 --iterations 80 --clips 2]
DIR holds 16 kHz speech WAV files (any); the script adds white noise at --input-snr dB (seeded), fits each
--designs prior to each noisy excerpt once in float32 and once in bf16 (channels-last), same seeds, and
prints the SNR of the best traced iterate (oracle) and of the final one, and their bf16 - fp32 differences.
With --compare seed it fits float32 under a second seed instead of bf16: the yardstick for the bf16
differences (a fit's results move that much for reasons that are not precision).
Without DIR (or with no WAV in it) it prints why and exits 0: the project does not depend on the samples.
On a CPU without native bf16 the bf16 fits are emulated and slow (10x float32): keep the excerpts short.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bench.components.method import RunContext, build_method
from bench.core.audio import Observation
from bench.core.audio_io import read_audio
from bench.metrics.waveform import snr


def fit_once(design: str, precision: str, clean: np.ndarray, noisy: np.ndarray, iterations: int,
             trace_every: int, seed: int = 1) -> tuple[float, float, float, int]:
    """(oracle SNR, final SNR, seconds, oracle iteration) of one fit."""
    traced: list[tuple[float, int]] = []
    method = build_method(f"unet-{design}", {"precision": precision})
    protocol = {**method.protocol_defaults, "iterations": iterations, "trace_every": trace_every}
    context = RunContext(seed=seed, protocol=protocol,
                         trace_callback=lambda i, wave: traced.append((snr(clean, wave, 16000), i)))
    started = time.process_time()
    estimate = method.restore(Observation(noisy, 16000, "denoising"), context)
    final = snr(clean, estimate.signal, 16000)
    oracle, at = max(traced + [(final, iterations)])
    return oracle, final, time.process_time() - started, at


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", help="folder of 16 kHz speech WAV files")
    parser.add_argument("--designs", default="conv", help="comma-separated spectral prior designs")
    parser.add_argument("--seconds", type=float, default=0.128)
    parser.add_argument("--iterations", type=int, default=80)
    parser.add_argument("--trace-every", type=int, default=10)
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--input-snr", type=float, default=5.0)
    parser.add_argument("--compare", choices=("bf16", "seed"), default="bf16",
                        help="bf16: bf16 against float32, same seed; seed: float32 under another seed against "
                             "float32 (the yardstick: how far a fit moves for reasons that are not precision)")
    args = parser.parse_args(argv)
    files = sorted(Path(args.samples).glob("*.wav")) if args.samples and Path(args.samples).is_dir() else []
    if not files:
        print(f"no speech samples (--samples {args.samples!r}): nothing measured")
        return 0
    import bench.methods.spectral_priors  # noqa: F401 - registers the unet-* methods
    rng = np.random.default_rng(0)
    step = max(1, len(files) // args.clips)
    diffs = {"oracle": [], "final": []}
    for path in files[::step][:args.clips]:
        audio, sr = read_audio(path)
        if sr != 16000:
            raise SystemExit(f"{path}: sample rate {sr}, expected 16000")
        audio = np.asarray(audio, dtype=np.float32).reshape(-1, audio.shape[-1]).mean(0) if audio.ndim > 1 else audio
        length = int(args.seconds * sr)
        start = int(np.argmax(np.convolve(audio ** 2, np.ones(length), "valid")))  # the loudest excerpt
        clean = audio[start:start + length].astype(np.float32)
        noise = rng.standard_normal(length).astype(np.float32)
        noise *= np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** (args.input_snr / 10))
        noisy = clean + noise
        for design in args.designs.split(","):
            fp32 = fit_once(design, "fp32", clean, noisy, args.iterations, args.trace_every)
            if args.compare == "bf16":
                other, name = fit_once(design, "bf16", clean, noisy, args.iterations, args.trace_every), "bf16"
            else:
                other, name = fit_once(design, "fp32", clean, noisy, args.iterations, args.trace_every, seed=2), "seed 2"
            diffs["oracle"].append(other[0] - fp32[0])
            diffs["final"].append(other[1] - fp32[1])
            print(f"{path.name} {design}: input {snr(clean, noisy, sr):.2f} dB; oracle fp32 {fp32[0]:.2f} "
                  f"{name} {other[0]:.2f} (diff {other[0] - fp32[0]:+.2f}); final fp32 {fp32[1]:.2f} {name} "
                  f"{other[1]:.2f} (diff {other[1] - fp32[1]:+.2f}) dB; oracle at iteration {fp32[3]} fp32, "
                  f"{other[3]} {name}; {fp32[2]:.0f} s fp32, {other[2]:.0f} s {name}", flush=True)
    for kind, values in diffs.items():
        print(f"{kind} SNR {name} - fp32 over {len(values)} fits: max |diff| {max(map(abs, values)):.2f} dB, "
              f"mean {np.mean(values):+.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
