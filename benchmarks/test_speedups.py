"""Where a spectral prior iteration stands on this device, and what each of issue 17's changes buys, in one run.

Run: OMP_NUM_THREADS=1 pytest benchmarks/test_speedups.py --benchmark-only -s --benchmark-timer time.process_time
(a few minutes on one CPU core; the CPU-time timer makes a shared machine's load cancel out)
Environment: BENCH_SPEED_SECONDS (clip length, default 1.0: the paper's 2 x 512 x 252), BENCH_SPEED_STEPS
(Adam steps per timed fit, default 2 on the CPU), BENCH_SPEED_COMPILE=1 to time the torch.compile path too
(its compilation, tens of seconds to minutes, is timed and printed apart).

Paths of the ``conv`` design, each timed as (T(fit of S steps) - T(fit of 0 steps)) / S:
- ``today``: float32, InstanceNorm2d (the network before this change);
- ``fp32``: float32 with the group-norm form of instance norm (the new default on CPUs without bf16);
- ``bf16-cl``: bf16 with channels-last, what ``precision = "auto"`` picks where the CPU has native bf16
  (timed only there: elsewhere bf16 is emulated, 10x slower);
- ``compiled``: ``auto`` precision through torch.compile (with BENCH_SPEED_COMPILE=1).
Each path's FLOPs per iteration (forward and backward, counted by torch's FlopCounterMode) give its
achieved GFLOP/s, against the device's peak measured by a matmul in the same run.
"""
import os
import time
from functools import partial

import pytest
import torch
from bench.methods.networks.spectral_unet import SpectralUNet, make_design
from prior_speed import CUDA, DEVICE, STEPS, fixed_cost, synchronised
from torch.utils.flop_counter import FlopCounterMode

from bench.components.fitting import Ensemble, Precision, Schedule, cpu_has_native_bf16, fit
from bench.core.stft import SpectralFrame

SECONDS = float(os.environ.get("BENCH_SPEED_SECONDS", "1.0"))
COMPILE = os.environ.get("BENCH_SPEED_COMPILE") == "1"
NATIVE_BF16 = CUDA or cpu_has_native_bf16()
TIMES: dict[str, float] = {}  # path -> seconds per iteration
FLOPS: dict[str, float] = {}  # path -> FLOPs per iteration
PEAK: dict[str, float] = {}  # dtype -> FLOP/s of a large matmul


def _today_network():
    """The network as it was: InstanceNorm2d modules where the group-norm form is now."""
    net = SpectralUNet(make_design("conv"))
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.GroupNorm):
                setattr(module, name, torch.nn.InstanceNorm2d(child.num_channels, affine=False))
    return net


PATHS = {
    "today": (_today_network, Precision(), False),
    "fp32": (partial(SpectralUNet, make_design("conv")), Precision(), False),
    "bf16-cl": (partial(SpectralUNet, make_design("conv")), Precision(bf16=True, channels_last=True), False),
    "compiled": (partial(SpectralUNet, make_design("conv")), Precision.resolve("auto", DEVICE), True),
}


def _make_run(path: str, steps: int):
    build, precision, compiled = PATHS[path]
    shape = SpectralFrame().shape(int(SECONDS * 16000))
    inputs, targets = torch.randn(1, *shape, device=DEVICE), torch.randn(1, *shape, device=DEVICE)
    model = Ensemble(build, [0]).to(DEVICE)
    return lambda: fit(model, inputs, lambda out, step: ((out - targets) ** 2).mean((1, 2, 3)),
                       Schedule(iterations=steps), precision=precision, compile=compiled)


def _flops_per_iteration(path: str) -> float:
    """FLOPs of one fit of 1 step minus one of 0 steps (forward, backward; Adam's are negligible)."""
    counts = []
    for steps in (1, 0):
        run = _make_run(path, steps)
        with FlopCounterMode(display=False) as counter:
            run()
        counts.append(counter.get_total_flops())
    return float(counts[0] - counts[1])


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_peak(benchmark, dtype):
    if dtype == "bfloat16" and not NATIVE_BF16:
        pytest.skip("no native bf16 on this device")
    n = 4096 if CUDA else 1024
    a = torch.randn(n, n, device=DEVICE, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, device=DEVICE, dtype=getattr(torch, dtype))
    benchmark.pedantic(synchronised(lambda: a @ b), rounds=5, iterations=1, warmup_rounds=1)
    PEAK[dtype] = 2 * n ** 3 / benchmark.stats.stats.min
    print(f"\nmatmul {n}x{n} {dtype}: {PEAK[dtype] / 1e9:.1f} GFLOP/s on {DEVICE}")


@pytest.mark.parametrize("path", list(PATHS))
def test_conv_iteration(benchmark, path):
    if path == "bf16-cl" and not NATIVE_BF16:
        pytest.skip("no native bf16 on this device: bf16 is emulated (about 10x slower than float32)")
    if path == "compiled" and not COMPILE:
        pytest.skip("BENCH_SPEED_COMPILE=1 times the compiled path")
    if path == "compiled":
        started = time.perf_counter()
        _make_run(path, 1)()
        print(f"\ncompiled: first fit (compilation) {time.perf_counter() - started:.1f} s")
    benchmark.pedantic(synchronised(_make_run(path, STEPS)), rounds=2, iterations=1, warmup_rounds=1)
    overhead = fixed_cost(_make_run(path, 0), rounds=2, timer=getattr(benchmark, "_timer", time.perf_counter))
    TIMES[path] = (benchmark.stats.stats.mean - overhead) / STEPS
    FLOPS[path] = _flops_per_iteration(path)
    benchmark.extra_info.update(path=path, seconds=SECONDS, s_per_iteration=TIMES[path],
                                gflop_per_iteration=FLOPS[path] / 1e9)
    print(f"\n{path}: {TIMES[path]:.3f} s per iteration, {FLOPS[path] / 1e9:.0f} GFLOP per iteration")


@pytest.fixture(scope="module", autouse=True)
def summary():
    """Printed after the module's timings: speed-ups over today's path and fractions of the peak."""
    yield
    if not TIMES:
        return
    print(f"\nconv prior, {SECONDS} s clip, {DEVICE}, {torch.get_num_threads()} thread(s):")
    for path, seconds in TIMES.items():
        peak = PEAK.get("bfloat16" if PATHS[path][1].bf16 else "float32")
        achieved = FLOPS[path] / seconds
        line = f"  {path:>9}: {seconds:.3f} s/it, {achieved / 1e9:.1f} GFLOP/s"
        if peak:
            line += f" ({100 * achieved / peak:.0f} % of the measured matmul peak)"
        if "today" in TIMES:
            line += f", {TIMES['today'] / seconds:.2f}x today's fp32 path"
        print(line)
