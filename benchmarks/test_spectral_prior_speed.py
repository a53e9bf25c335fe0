"""Seconds per fitting iteration per clip for each spectral prior design, one clip at a time and batched.

Run: pytest benchmarks/test_spectral_prior_speed.py --benchmark-only -s
Environment: BENCH_SPEED_SECONDS (clip length, default 1.0: the paper's 512 x 252 spectrogram),
BENCH_SPEED_BATCH (clips per batched fit; default 8 on CUDA, 2 on the CPU), BENCH_SPEED_STEPS (Adam steps
per timed round; default 20 on CUDA, 2 on the CPU), BENCH_SPEED_DESIGNS (comma-separated subset).
The device is CUDA when available (bf16 and channels-last, as the methods use it there), else the CPU
(float32). The last test prints the speed-up of batching and projects the time of the whole
``narayanaswamy2021`` paper profile (every cell x its iterations) on this device from these figures; trace
scoring (PESQ, BSS Eval on the CPU) is not included in the projection.
"""
import os
from functools import partial

import pytest
import torch

from bench.cells import expand
from bench.fitting import Ensemble, Precision, Schedule, fit
from bench.methods.spectral_unet import DESIGNS, SpectralUNet, make_design
from bench.stft import SpectralFrame
from bench.suite import load_suite

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CUDA = DEVICE.type == "cuda"
SECONDS = float(os.environ.get("BENCH_SPEED_SECONDS", "1.0"))
BATCH = int(os.environ.get("BENCH_SPEED_BATCH", "8" if CUDA else "2"))
STEPS = int(os.environ.get("BENCH_SPEED_STEPS", "20" if CUDA else "2"))
SELECTED = [d for d in os.environ.get("BENCH_SPEED_DESIGNS", ",".join(DESIGNS)).split(",") if d]
PRECISION = Precision.resolve("auto", DEVICE)
RESULTS: dict[tuple[str, str], float] = {}  # (design, "single" | "batched") -> seconds per iteration per clip


def _one_fit(design: str, clips: int):
    shape = SpectralFrame().shape(int(SECONDS * 16000))
    inputs = torch.randn(clips, *shape, device=DEVICE)
    targets = torch.randn(clips, *shape, device=DEVICE)
    model = Ensemble(partial(SpectralUNet, make_design(design)), list(range(clips))).to(DEVICE)

    def run():
        fit(model, inputs, lambda out, step: ((out - targets) ** 2).mean((1, 2, 3)), Schedule(iterations=STEPS),
            precision=PRECISION)
        if CUDA:
            torch.cuda.synchronize()

    return run


@pytest.mark.parametrize("mode", ["single", "batched"])
@pytest.mark.parametrize("design", SELECTED)
def test_seconds_per_iteration_per_clip(benchmark, design, mode):
    clips = 1 if mode == "single" else BATCH
    benchmark.pedantic(_one_fit(design, clips), rounds=2 if not CUDA else 5, iterations=1, warmup_rounds=1)
    per_clip = benchmark.stats.stats.mean / STEPS / clips
    RESULTS[(design, mode)] = per_clip
    benchmark.extra_info.update(design=design, mode=mode, clips=clips, steps=STEPS, seconds=SECONDS,
                                device=str(DEVICE), bf16=PRECISION.bf16, s_per_iteration_per_clip=per_clip)
    print(f"\n{design:>10} {mode:>7} x{clips}: {per_clip:.4f} s per iteration per clip on {DEVICE}")


def _paper_profile_work() -> dict[str, int]:
    """Fitting iterations of the narayanaswamy2021 paper profile per design, counting each prior of a
    separation cell (two sources and a mask) as one fit."""
    work: dict[str, int] = {}
    for cell in expand(load_suite("narayanaswamy2021"), "paper", synthetic=True):
        method = cell.method
        iterations = int(cell.config["protocol"]["iterations"])
        if method["name"] == "dap-separation":
            design, priors = method["params"].get("prior", "exp-dense"), 3
        else:
            design, priors = method["name"].removeprefix("unet-"), 1
        work[design] = work.get(design, 0) + iterations * priors
    return work


def test_batching_speedup_and_paper_profile_projection():
    if not RESULTS:
        pytest.skip("no timings in this session")
    print(f"\nclip {SECONDS} s, batch {BATCH}, device {DEVICE}, bf16 {PRECISION.bf16}")
    for design in SELECTED:
        single, batched = RESULTS.get((design, "single")), RESULTS.get((design, "batched"))
        if single and batched:
            print(f"{design:>10}: single {single:.4f} s/it/clip, batched {batched:.4f} s/it/clip, "
                  f"speed-up {single / batched:.2f}x")
    work = _paper_profile_work()
    for mode in ("single", "batched"):
        if all((d, mode) in RESULTS for d in work):
            seconds = sum(iterations * RESULTS[(d, mode)] for d, iterations in work.items())
            print(f"narayanaswamy2021 paper profile ({sum(work.values()):,} prior-iterations): "
                  f"{seconds / 3600:.1f} h fitting on one {DEVICE} device, clips fitted {mode}")
