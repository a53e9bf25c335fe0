"""Seconds per fitting iteration per clip of the waveform priors, one clip at a time and batched.

Run: pytest benchmarks/test_waveform_prior_speed.py --benchmark-only -s
Environment: BENCH_SPEED_SECONDS (clip length, default 2.0: the paper's clips), BENCH_SPEED_BATCH (clips per
batched fit; default 8 on CUDA, 2 on the CPU), BENCH_SPEED_STEPS (Adam steps per timed round; default 20 on
CUDA, 2 on the CPU), BENCH_SPEED_VARIANTS (comma-separated subset of waveform_demucs.DESIGNS and
"wave-unet"; default demucs and wave-unet). The input noise is drawn anew every step, as the denoising
protocol does. The device is CUDA when available (bf16), else the CPU (float32). The last test prints the
speed-up of batching and projects the ``waveform-prior`` paper profile's fitting time on this device (every
cell x its iterations, each variant at its own measured speed; variants not timed are left out and named);
trace scoring (PESQ on traced iterates) is not included.
"""
import os
from functools import partial

import pytest
import torch

from bench.cells import expand
from bench.fitting import Ensemble, Precision, Schedule, fit
from bench.methods.wave_unet import WaveUNet
from bench.methods.waveform_demucs import WaveformDemucs, make_design
from bench.suite import load_suite

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CUDA = DEVICE.type == "cuda"
SECONDS = float(os.environ.get("BENCH_SPEED_SECONDS", "2.0"))
BATCH = int(os.environ.get("BENCH_SPEED_BATCH", "8" if CUDA else "2"))
STEPS = int(os.environ.get("BENCH_SPEED_STEPS", "20" if CUDA else "2"))
SELECTED = [v for v in os.environ.get("BENCH_SPEED_VARIANTS", "demucs,wave-unet").split(",") if v]
PRECISION = Precision.resolve("auto", DEVICE)
RESULTS: dict[tuple[str, str], float] = {}  # (variant, "single" | "batched") -> seconds per iteration per clip


def _network(variant: str):
    if variant == "wave-unet":
        return WaveUNet, WaveUNet().input_length
    design = make_design(variant)
    return partial(WaveformDemucs, design), design.input_length


def _one_fit(variant: str, clips: int):
    build, input_length = _network(variant)
    samples = int(SECONDS * 16000)
    length = input_length(samples)
    inputs = 0.1 * torch.randn(clips, 1, length, device=DEVICE)
    targets = torch.randn(clips, samples, device=DEVICE)
    model = Ensemble(build, list(range(clips))).to(DEVICE)

    def objective(out, step):
        return (WaveUNet.crop(out[:, 0], samples) - targets).abs().mean(-1)

    def run():
        fit(model, inputs, objective, Schedule(iterations=STEPS, lr=1e-4), precision=PRECISION,
            redraw=lambda step: 0.1 * torch.randn(clips, 1, length, device=DEVICE))
        if CUDA:
            torch.cuda.synchronize()

    return run


@pytest.mark.parametrize("mode", ["single", "batched"])
@pytest.mark.parametrize("variant", SELECTED)
def test_seconds_per_iteration_per_clip(benchmark, variant, mode):
    clips = 1 if mode == "single" else BATCH
    benchmark.pedantic(_one_fit(variant, clips), rounds=2 if not CUDA else 5, iterations=1, warmup_rounds=1)
    per_clip = benchmark.stats.stats.mean / STEPS / clips
    RESULTS[(variant, mode)] = per_clip
    benchmark.extra_info.update(variant=variant, mode=mode, clips=clips, steps=STEPS, seconds=SECONDS,
                                device=str(DEVICE), bf16=PRECISION.bf16, s_per_iteration_per_clip=per_clip)
    print(f"\n{variant:>18} {mode:>7} x{clips}: {per_clip:.4f} s per iteration per clip on {DEVICE}")


def _paper_profile_work() -> dict[str, int]:
    """Fitting iterations of the waveform-prior paper profile per variant ("wave-unet" or a Demucs design)."""
    work: dict[str, int] = {}
    for cell in expand(load_suite("waveform-prior"), "paper", synthetic=True):
        method = cell.method
        variant = "wave-unet" if method["name"] == "wave-unet" else method["params"].get("variant", "demucs")
        work[variant] = work.get(variant, 0) + int(cell.config["protocol"]["iterations"])
    return work


def test_batching_speedup_and_paper_profile_projection():
    if not RESULTS:
        pytest.skip("no timings in this session")
    print(f"\nclip {SECONDS} s, batch {BATCH}, device {DEVICE}, bf16 {PRECISION.bf16}")
    for variant in SELECTED:
        single, batched = RESULTS.get((variant, "single")), RESULTS.get((variant, "batched"))
        if single and batched:
            print(f"{variant:>18}: single {single:.4f} s/it/clip, batched {batched:.4f} s/it/clip, "
                  f"speed-up {single / batched:.2f}x")
    work = _paper_profile_work()
    for mode in ("single", "batched"):
        timed = {v: n for v, n in work.items() if (v, mode) in RESULTS}
        if timed:
            seconds = sum(n * RESULTS[(v, mode)] for v, n in timed.items())
            missing = sorted(set(work) - set(timed))
            print(f"waveform-prior paper profile, {sum(timed.values()):,} of {sum(work.values()):,} iterations "
                  f"({', '.join(sorted(timed))}): {seconds / 3600:.1f} h fitting on one {DEVICE} device, "
                  f"clips fitted {mode}" + (f"; not timed: {', '.join(missing)}" if missing else ""))
