"""What the deep-prior speed benchmarks share: the device and settings, timing one fit, and the projection.

Environment: BENCH_SPEED_BATCH (clips per batched fit; default 8 on CUDA, 2 on the CPU), BENCH_SPEED_STEPS
(Adam steps per timed round; default 20 on CUDA, 2 on the CPU). On a shared machine, time CPU work rather than
wall time: ``--benchmark-timer time.process_time`` (with OMP_NUM_THREADS=1). The device is CUDA when available (bf16 and
channels-last, as the methods use it there), else the CPU (float32).
"""
import os
import time
from typing import Callable

import torch

from bench.components.fitting import Precision

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CUDA = DEVICE.type == "cuda"
BATCH = int(os.environ.get("BENCH_SPEED_BATCH", "8" if CUDA else "2"))
STEPS = int(os.environ.get("BENCH_SPEED_STEPS", "20" if CUDA else "2"))
PRECISION = Precision.resolve("auto", DEVICE)


def synchronised(run: Callable[[], None]) -> Callable[[], None]:
    """``run`` followed by a CUDA synchronisation, so that the timer sees the GPU's work."""
    def timed():
        run()
        if CUDA:
            torch.cuda.synchronize()
    return timed


def time_per_iteration_per_clip(benchmark, make_run: Callable[[int, int], Callable[[], None]], name: str, mode: str,
                                results: dict, **info) -> float:
    """Time ``make_run(clips, STEPS)`` (one fit of STEPS steps) and record seconds per iteration per clip.

    A fit of S steps also builds its optimiser and runs a final forward pass; a fit of 0 steps does just
    that, so it is timed too and subtracted: (T(S) - T(0)) / S is the cost of one iteration.
    """
    clips = 1 if mode == "single" else BATCH
    benchmark.pedantic(synchronised(make_run(clips, STEPS)), rounds=5 if CUDA else 2, iterations=1, warmup_rounds=1)
    overhead = fixed_cost(make_run(clips, 0), timer=getattr(benchmark, "_timer", time.perf_counter))
    per_clip = (benchmark.stats.stats.mean - overhead) / STEPS / clips
    results[(name, mode)] = per_clip
    benchmark.extra_info.update(name=name, mode=mode, clips=clips, steps=STEPS, device=str(DEVICE),
                                bf16=PRECISION.bf16, s_per_iteration_per_clip=per_clip, fixed_cost_s=overhead,
                                **info)
    print(f"\n{name:>18} {mode:>7} x{clips}: {per_clip:.4f} s per iteration per clip on {DEVICE}")
    return per_clip


def fixed_cost(run: Callable[[], None], rounds: int = 3, timer: Callable[[], float] = time.perf_counter) -> float:
    """Mean seconds of ``run`` (a fit of 0 steps: optimiser and final forward), after one warm-up call, by
    ``timer`` (the benchmark's: ``--benchmark-timer time.process_time`` on a shared CPU)."""
    timed = synchronised(run)
    timed()
    started = timer()
    for _ in range(rounds):
        timed()
    return (timer() - started) / rounds


def print_speedups_and_projection(results: dict, names: list[str], work: dict[str, int], suite: str) -> None:
    """Batching speed-ups, and the fitting time of ``work`` (iterations per name) at the measured speeds."""
    for name in names:
        single, batched = results.get((name, "single")), results.get((name, "batched"))
        if single and batched:
            print(f"{name:>18}: single {single:.4f} s/it/clip, batched x{BATCH} {batched:.4f} s/it/clip, "
                  f"speed-up {single / batched:.2f}x")
    for mode in ("single", "batched"):
        timed = {n: iterations for n, iterations in work.items() if (n, mode) in results}
        if timed:
            seconds = sum(iterations * results[(n, mode)] for n, iterations in timed.items())
            missing = sorted(set(work) - set(timed))
            print(f"{suite} paper profile, {sum(timed.values()):,} of {sum(work.values()):,} fitting iterations: "
                  f"{seconds / 3600:.1f} h on one {DEVICE} device, clips fitted {mode}"
                  + (f"; not timed: {', '.join(missing)}" if missing else ""))
