"""Seconds per fitting iteration per clip of the waveform priors, one clip at a time and batched.

Run: pytest benchmarks/test_waveform_prior_speed.py --benchmark-only -s
Environment: BENCH_SPEED_SECONDS (clip length, default 2.0: the paper's clips), BENCH_SPEED_VARIANTS
(comma-separated subset of waveform_demucs.DESIGNS and "wave-unet"; default demucs and wave-unet), and those
of benchmarks/prior_speed.py (batch, steps). The input noise is fixed, as the methods' default. After the timings the module prints the speed-up of batching and projects the ``waveform-prior`` paper
profile's fitting time on this device (every cell x its iterations, each variant at its own measured speed;
variants not timed are left out and named); trace scoring (PESQ on traced iterates) is not included.
"""
import os
from functools import partial

import pytest
import torch
from bench.methods.networks.wave_unet import WaveUNet
from bench.methods.networks.waveform_demucs import WaveformDemucs, centre_crop, make_design
from prior_speed import DEVICE, PRECISION, print_speedups_and_projection, time_per_iteration_per_clip

from bench.components.fitting import Ensemble, Schedule, fit
from bench.planning.cells import expand
from bench.planning.suite import load_suite

SECONDS = float(os.environ.get("BENCH_SPEED_SECONDS", "2.0"))
SELECTED = [v for v in os.environ.get("BENCH_SPEED_VARIANTS", "demucs,wave-unet").split(",") if v]
RESULTS: dict[tuple[str, str], float] = {}  # (variant, "single" | "batched") -> seconds per iteration per clip


def _network(variant: str):
    if variant == "wave-unet":
        return WaveUNet, WaveUNet().input_length
    design = make_design(variant)
    return partial(WaveformDemucs, design), design.input_length


def _one_fit(variant: str):
    def make_run(clips: int, steps: int):
        build, input_length = _network(variant)
        samples = int(SECONDS * 16000)
        length = input_length(samples)
        inputs = torch.rand(clips, 1, length, device=DEVICE) * 2 - 1  # fixed U(-1, 1), the default input
        targets = torch.randn(clips, samples, device=DEVICE)
        model = Ensemble(build, list(range(clips))).to(DEVICE)
        return lambda: fit(model, inputs, lambda out, step: (centre_crop(out[:, 0], samples) - targets).abs().mean(-1),
                           Schedule(iterations=steps, lr=1e-4), precision=PRECISION)
    return make_run


@pytest.mark.parametrize("mode", ["single", "batched"])
@pytest.mark.parametrize("variant", SELECTED)
def test_seconds_per_iteration_per_clip(benchmark, variant, mode):
    time_per_iteration_per_clip(benchmark, _one_fit(variant), variant, mode, RESULTS, seconds=SECONDS)


def _paper_profile_work() -> dict[str, int]:
    """Fitting iterations of the waveform-prior paper profile per variant ("wave-unet" or a Demucs design)."""
    work: dict[str, int] = {}
    for cell in expand(load_suite("waveform-prior"), "paper", synthetic=True):
        method = cell.method
        variant = "wave-unet" if method["name"] == "wave-unet" else method["params"].get("variant", "demucs")
        work[variant] = work.get(variant, 0) + int(cell.config["protocol"]["iterations"])
    return work


@pytest.fixture(scope="module", autouse=True)
def batching_speedup_and_paper_profile_projection():
    """Printed after the module's timings (a fixture, not a test: --benchmark-only skips plain tests)."""
    yield
    if RESULTS:
        print(f"\nclip {SECONDS} s, device {DEVICE}, bf16 {PRECISION.bf16}")
        print_speedups_and_projection(RESULTS, SELECTED, _paper_profile_work(), "waveform-prior")
