"""Where the deep priors stand on this device, and what the papers' profiles would cost here.

Run: OMP_NUM_THREADS=1 python benchmarks/where_we_stand.py [--seconds 0.25] [--steps 2]   (a few minutes on one core)

For each prior family's networks (spectral U-Net ``conv``, ``dilated``, ``exp``, ``exp-dense``; waveform Demucs;
Wave-U-Net), on a short clip: CPU seconds per iteration per clip (fit of S steps minus a fit of 0 steps,
over S; ``time.process_time``, so a shared machine's load cancels out), FLOPs per iteration (torch's
FlopCounterMode), the achieved GFLOP/s and its fraction of the float32 matmul peak measured in the same run.
Then the cost of one trace point (scoring one iterate with a suite's trace metrics, ``bench.running.trace_scoring``),
and the projected time of each paper profile: every fit's iterations at the measured speed, scaled
linearly from the timed clip length to the profile's, plus its trace points. Designs not timed here are
projected at their family's ``TIMED_DESIGN`` speed (the waveform Demucs variants, 20 cells each; the
harmonic spectral U-Net, 1 cell in ``all``). The GPU line is NOT a
measurement: the profile's FLOPs at an assumed fraction of an H100's dense bf16 peak.
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from profile_work import profile_work  # noqa: E402

from bench.components.fitting import Ensemble, Schedule, fit  # noqa: E402
from bench.planning.cells import expand  # noqa: E402
from bench.planning.suite import load_suite  # noqa: E402

SUITES = ("narayanaswamy2021", "waveform-prior", "all")  # all: `bench run --suite all`, every built-in suite
TIMED_DESIGN = {"spectral": "conv", "demucs": "demucs", "wave-unet": "wave-unet"}  # for designs not timed here
H100_BF16_DENSE = 989e12  # FLOP/s, the vendor's figure; assumed, not measured
ASSUMED_GPU_UTILISATION = (0.05, 0.20)  # small convolutions under vmap: a range, not a measurement


def _network(family: str, design: str, samples: int):
    """(network factory, input shape, per-problem loss) of one prior at one clip length."""
    if family == "spectral":
        from bench.methods.networks.spectral_unet import SpectralUNet, make_design

        from bench.core.stft import SpectralFrame

        shape = SpectralFrame().shape(samples)
        return partial(SpectralUNet, make_design(design)), shape, shape
    from bench.methods.networks.waveform_demucs import centre_crop

    if family == "wave-unet":
        from bench.methods.networks.wave_unet import WaveUNet

        build, length = WaveUNet, WaveUNet().input_length(samples)
    else:
        from bench.methods.networks.waveform_demucs import WaveformDemucs, make_design

        build, length = partial(WaveformDemucs, make_design(design)), make_design(design).input_length(samples)
    return build, (1, length), (samples,), centre_crop


def _fit(family: str, design: str, samples: int, steps: int):
    build, shape, target_shape, *crop = _network(family, design, samples)
    inputs, targets = torch.randn(1, *shape), torch.randn(1, *target_shape)
    if crop:
        def loss(out, step):
            return (crop[0](out[:, 0], samples) - targets).abs().mean(-1)
    else:
        def loss(out, step):
            return ((out - targets) ** 2).mean((1, 2, 3))
    model = Ensemble(build, [0])
    return lambda: fit(model, inputs, loss, Schedule(iterations=steps))


def _cpu_seconds(run, rounds: int = 2) -> float:
    run()  # warm-up
    started = time.process_time()
    for _ in range(rounds):
        run()
    return (time.process_time() - started) / rounds


def measure_prior(family: str, design: str, seconds: float, steps: int) -> dict:
    samples = int(seconds * 16000)
    per_iteration = (_cpu_seconds(_fit(family, design, samples, steps))
                     - _cpu_seconds(_fit(family, design, samples, 0))) / steps
    counts = []
    for n in (1, 0):
        run = _fit(family, design, samples, n)
        with FlopCounterMode(display=False) as counter:
            run()
        counts.append(counter.get_total_flops())
    flops = float(counts[0] - counts[1])
    return {"family": family, "design": design, "seconds": seconds, "s_per_iteration": per_iteration,
            "flop_per_iteration": flops}


def matmul_peak(n: int = 1024, rounds: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_cpu_seconds(lambda: a @ b, rounds=1) for _ in range(rounds))
    return 2 * n ** 3 / best


def trace_point_seconds(metrics: tuple[str, ...], all_metrics: bool, seconds: float) -> float:
    """CPU seconds to score one iterate of a ``seconds`` clip with these metrics, as a trace point is."""
    from bench.core.registry import DATASETS
    from bench.running.trace_scoring import score_point

    rng, sr = np.random.default_rng(0), 16000
    speech = DATASETS.get("synthetic-speech").obj()  # speech-like, so that PESQ finds utterances in it
    reference = speech.load("00000", sr=sr, seconds=seconds, rng=rng).samples
    reference = reference if reference.ndim == 1 else reference[0]
    estimate = reference + 0.05 * rng.standard_normal(reference.shape).astype(np.float32)
    if any(name.startswith("bss") for name in metrics):  # separation: two sources
        reference, estimate = np.stack([reference, reference[::-1].copy()]), np.stack([estimate, estimate[::-1].copy()])
    mask = np.ones(reference.shape[-1], dtype=np.float32)
    mask[len(mask) // 2:len(mask) // 2 + sr // 20] = 0  # one 50 ms gap, for the gap metrics
    noisy = reference + 0.2 * rng.standard_normal(reference.shape).astype(np.float32)
    input_scores = score_point(list(metrics), reference, sr, {"mask": mask}, noisy, False, {})  # improvements' base
    score = partial(score_point, list(metrics), reference, sr, {"mask": mask}, estimate, not all_metrics,
                    {k: v for k, v in input_scores.items() if v is not None})
    scores = score()
    failed = [name for name, value in scores.items()
              if value is None or (isinstance(value, float) and not np.isfinite(value))]
    if failed:
        raise RuntimeError(f"trace point scoring gave no value for {failed}: the timing would not be a scoring's")
    return _cpu_seconds(score, rounds=2)


def project(suite: str, speeds: dict, trace_costs: dict) -> dict:
    """Hours of fitting and of trace scoring for ``suite``'s paper profile at the measured speeds."""
    iterations, points = profile_work(expand(load_suite(suite), "paper", synthetic=True))
    fit_s = flops = 0.0
    for fits, n in iterations.items():
        measured = speeds.get((fits.family, fits.design)) or speeds[(fits.family, TIMED_DESIGN[fits.family])]
        scale = fits.seconds / measured["seconds"]
        fit_s += n * measured["s_per_iteration"] * scale
        flops += n * measured["flop_per_iteration"] * scale
    trace_s = sum(n * trace_costs[key] for key, n in points.items())
    return {"suite": suite, "iterations": sum(iterations.values()), "trace_points": sum(points.values()),
            "fit_h": fit_s / 3600, "trace_h": trace_s / 3600, "flop": flops}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.25, help="clip length timed (default 0.25 s)")
    parser.add_argument("--steps", type=int, default=2, help="Adam steps per timed fit (default 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    peak = matmul_peak()
    print(f"CPU, 1 thread, torch {torch.__version__}: float32 matmul peak {peak / 1e9:.1f} GFLOP/s (measured)")
    print(f"\n| prior | s/iteration/clip at {args.seconds:g} s | GFLOP/iteration | GFLOP/s | of peak |")
    print("|---|---|---|---|---|")
    speeds = {}
    for family, design in (("spectral", "conv"), ("spectral", "dilated"), ("spectral", "exp"),
                           ("spectral", "exp-dense"), ("demucs", "demucs"), ("wave-unet", "wave-unet")):
        m = measure_prior(family, design, args.seconds, args.steps)
        speeds[(family, design)] = m
        rate = m["flop_per_iteration"] / m["s_per_iteration"]
        print(f"| {family} {design} | {m['s_per_iteration']:.3f} | {m['flop_per_iteration'] / 1e9:.2f} | "
              f"{rate / 1e9:.1f} | {100 * rate / peak:.0f} % |", flush=True)
    trace_costs = {}
    for suite in SUITES:
        for key in profile_work(expand(load_suite(suite), "paper", synthetic=True))[1]:
            if key not in trace_costs:
                trace_costs[key] = trace_point_seconds(key.metrics, key.all_metrics, key.seconds)
    print("\n| trace point: metrics | clip | CPU s per point |\n|---|---|---|")
    for key, cost in trace_costs.items():
        names = ", ".join(key.metrics) + ("" if key.all_metrics else " (trace-safe only)")
        print(f"| {names} | {key.seconds:g} s | {cost:.3f} |")
    print("\n| paper profile | fitting iterations | trace points | CPU, 1 core: fitting | + trace scoring | "
          "one GPU (NOT measured) |\n|---|---|---|---|---|---|")
    for suite in SUITES:
        p = project(suite, speeds, trace_costs)
        gpu = " to ".join(f"{p['flop'] / (u * H100_BF16_DENSE) / 3600:.1f}" for u in reversed(ASSUMED_GPU_UTILISATION))
        print(f"| {suite} | {p['iterations']:,} | {p['trace_points']:,} | {p['fit_h']:,.0f} h (projected) | "
              f"{p['trace_h']:,.0f} h (projected) | {gpu} h fitting, if {ASSUMED_GPU_UTILISATION[1]:.0%} to "
              f"{ASSUMED_GPU_UTILISATION[0]:.0%} of an H100's bf16 peak (assumed) |")
    print("\nThe trained methods' training (mimilakis2020, venkataramani2019-figure3, in `all`) is not in these "
          "rows: benchmarks/dae_training_speed.py and udt_training_speed.py project it")
    print("\nCPU projections: measured speed on a short clip, scaled linearly to the profile's clip length; "
          "GPU: FLOPs at an assumed utilisation, a lower bound where kernel launches rather than FLOPs limit "
          "(the waveform priors' small convolutions and their LSTM, run copy by copy under vmap; "
          "FlopCounterMode may not see inside aten::lstm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
