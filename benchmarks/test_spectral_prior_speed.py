"""Seconds per fitting iteration per clip for each spectral prior design, one clip at a time and batched.

Run: pytest benchmarks/test_spectral_prior_speed.py --benchmark-only -s
Environment: BENCH_SPEED_SECONDS (clip length, default 1.0: the paper's 512 x 252 spectrogram),
BENCH_SPEED_DESIGNS (comma-separated subset), and those of benchmarks/prior_speed.py (batch, steps).
After the timings the module prints the speed-up of batching and projects the time of the whole ``narayanaswamy2021``
paper profile (every cell x its iterations; a separation cell fits three priors) on this device from these
figures; trace scoring (PESQ, BSS Eval on the CPU) is not included in the projection.
"""
import os
from functools import partial

import pytest
import torch
from bench.methods.networks.spectral_unet import DESIGNS, SpectralUNet, make_design
from prior_speed import DEVICE, PRECISION, print_speedups_and_projection, time_per_iteration_per_clip

from bench.components.fitting import Ensemble, Schedule, fit
from bench.core.stft import SpectralFrame
from bench.planning.cells import expand
from bench.planning.suite import load_suite

SECONDS = float(os.environ.get("BENCH_SPEED_SECONDS", "1.0"))
SELECTED = [d for d in os.environ.get("BENCH_SPEED_DESIGNS", ",".join(DESIGNS)).split(",") if d]
RESULTS: dict[tuple[str, str], float] = {}  # (design, "single" | "batched") -> seconds per iteration per clip


def _one_fit(design: str):
    def make_run(clips: int, steps: int):
        shape = SpectralFrame().shape(int(SECONDS * 16000))
        inputs = torch.randn(clips, *shape, device=DEVICE)
        targets = torch.randn(clips, *shape, device=DEVICE)
        model = Ensemble(partial(SpectralUNet, make_design(design)), list(range(clips))).to(DEVICE)
        return lambda: fit(model, inputs, lambda out, step: ((out - targets) ** 2).mean((1, 2, 3)),
                           Schedule(iterations=steps), precision=PRECISION)
    return make_run


@pytest.mark.parametrize("mode", ["single", "batched"])
@pytest.mark.parametrize("design", SELECTED)
def test_seconds_per_iteration_per_clip(benchmark, design, mode):
    time_per_iteration_per_clip(benchmark, _one_fit(design), design, mode, RESULTS, seconds=SECONDS)


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


@pytest.fixture(scope="module", autouse=True)
def batching_speedup_and_paper_profile_projection():
    """Printed after the module's timings (a fixture, not a test: --benchmark-only skips plain tests)."""
    yield
    if RESULTS:
        print(f"\nclip {SECONDS} s, device {DEVICE}, bf16 {PRECISION.bf16}")
        print_speedups_and_projection(RESULTS, SELECTED, _paper_profile_work(), "narayanaswamy2021")
