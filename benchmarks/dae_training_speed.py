"""Training throughput of the sinusoidal DAE (Mimilakis et al. 2020) and the projected paper profile.

    OMP_NUM_THREADS=1 python benchmarks/dae_training_speed.py [--channels 400 800 1600] [--steps 3]

Times full optimiser steps as ``fit`` takes them (batch 8 of 1 s segments at 44.1 kHz, the noisy vocal and
the remix encoded, neg-SNR + TV, Adam, sorting) on CUDA when available, else the CPU, and prints segments
per second (process CPU time on the CPU, so a shared machine's load does not count; wall time on CUDA). The
projection: what the method trains on, MUSDB18's train+valid splits (the paper's 100 training tracks, about
6.5 hours: ASSUMED_TRAIN_SECONDS; ``TRAIN_SPLIT`` fails loudly if the method's split changes) cut into 1 s segments
every 0.5 s is about 2 segments per second of audio, x 10 epochs x 3 runs for each of the 13 trained rows
of the two tables (the issue counts 11), at the throughput of the row's C (interpolated as a + b C + c C^2).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from bench.methods.sinusoidal_dae import SinusoidalDAEMethod

ASSUMED_TRAIN_SECONDS = 6.5 * 3600  # MUSDB18 train+valid: 100 of its 150 tracks (about 10 h in all)
TRAIN_SPLIT = "train+valid"
assert SinusoidalDAEMethod.training_data["tracks"]["split"] == TRAIN_SPLIT, "the projection assumes 100 tracks"
EPOCHS, RUNS = 10, 3
ROWS_C = [952, 952, 800, 800, 800, 800, 952,  # Table 1: cos x2, conv x2, mod-cos x2, sinc
          400, 400, 800, 800, 1600, 1600]      # Table 2: C x {A_v, A_m}


def throughput(channels: int, steps: int, device: str) -> float:
    """Segments per second of training at ``channels`` (TV on the remix, sorted atoms: the costliest row)."""
    method = SinusoidalDAEMethod(channels=channels, sort_atoms=True)
    protocol = dict(SinusoidalDAEMethod.training_defaults)
    model = method.build().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol["lr"])
    batch = protocol["batch_size"]
    vocals = 0.1 * torch.randn(batch, 44100, device=device)
    remix = vocals + 0.1 * torch.randn(batch, 44100, device=device)

    def step():
        loss, _, _ = method.loss(model, vocals, remix, protocol)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.sort_atoms(optimizer)
        if device == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up
    clock = time.perf_counter if device == "cuda" else time.process_time
    start = clock()
    for _ in range(steps):
        step()
    return steps * batch / (clock() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[400, 800, 1600])
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, torch threads: {torch.get_num_threads()}")
    rates = {}
    for channels in args.channels:
        rates[channels] = throughput(channels, args.steps, device)
        print(f"C = {channels:5d}: {rates[channels]:8.3f} segments/s ({1 / rates[channels]:.3f} s per segment)")
    per_epoch = 2 * ASSUMED_TRAIN_SECONDS
    cs = np.array(sorted(rates), dtype=float)
    seconds_per_segment = np.array([1 / rates[int(c)] for c in cs])
    fit = np.polyfit(cs, seconds_per_segment, min(2, len(cs) - 1))
    total = sum(np.polyval(fit, c) * per_epoch * EPOCHS * RUNS for c in ROWS_C)
    print(f"paper profile: {per_epoch:.0f} segments per epoch (assumed), {EPOCHS} epochs x {RUNS} runs x "
          f"{len(ROWS_C)} rows: {total / 3600:.1f} hours of training on this {device} "
          f"({total / 3600 / len(ROWS_C) / RUNS:.2f} h per training job on average)")


if __name__ == "__main__":
    main()
