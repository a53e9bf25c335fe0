"""Training speed of UDT and the supervised VAE (Venkataramani et al. 2019) on this machine, and what the
suite's profiles cost.

Run: OMP_NUM_THREADS=1 python benchmarks/udt_training_speed.py [--steps 2] [--paper-seconds 0.25]

Per method and size: CPU seconds per training example (``time.process_time`` over ``--steps`` optimiser
steps after one warm-up step: a shared machine's load largely cancels out), FLOPs per example (torch's
FlopCounterMode, counted on the meta device at the full size, so nothing that large is computed), the
achieved GFLOP/s. The sizes are the suite's: paper (window 2048, hop 16, 1024 channels, 2 s snippets:
about 2000 frames), quick (512 / 128, 256 channels, 1 s) and smoke (256 / 64, 128 channels, 0.5 s). The
paper size is timed on ``--paper-seconds`` snippets and scaled linearly in frames to 2 s (every layer is a
convolution over time: its cost is linear in the frame count); the FLOPs are counted at 2 s. Then the
projected training time of each profile (epochs x examples per epoch, as the suite resolves them) at the
measured speed. Batch size 1 at the paper size (the paper's batch of 8 needs about 8 GB of activations
per step on a CPU); FLOPs per example do not depend on the batch.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from bench.methods.style_transfer_separation import SupervisedVAESeparation, UDTSeparation, weighted_sum
from bench.methods.support.power_spectrogram import PowerSpectrogram
from torch.utils.flop_counter import FlopCounterMode

SR = 16000
SIZES = {"paper": (2048, 16, 2.0), "quick": (512, 128, 1.0), "smoke": (256, 64, 0.5)}
PROFILE_EXAMPLES = {"paper": 100 * 512, "quick": 25 * 64, "smoke": 1 * 8}  # epochs x examples per epoch


def _step(cls, model, front, frames: int, batch: int, device: str):
    """One training step's forward and backward on random features (the cost does not depend on values)."""
    c = front.coefficients
    method = cls()
    names = ("mixture", "clean") if cls is UDTSeparation else ("mixture", "target")
    data = {name: torch.rand(batch, c, frames, device=device) for name in names}
    weights = {k: float(cls.training_defaults[k]) for k in set(cls.term_groups.values())}
    loss = weighted_sum(method.loss_terms(model, data), weights, cls.term_groups)
    loss.backward()


def flops_per_example(cls, front, frames: int) -> float:
    with torch.device("meta"):
        model = cls().network(front.coefficients, front.as_dict())
        counter = FlopCounterMode(display=False)
        with counter:
            _step(cls, model, front, frames, 1, "meta")
    return float(counter.get_total_flops())


def seconds_per_example(cls, front, frames: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = cls().network(front.coefficients, front.as_dict()).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def one():
        optimizer.zero_grad()
        _step(cls, model, front, frames, batch, "cpu")
        optimizer.step()

    one()  # warm-up
    start = time.process_time()
    for _ in range(steps):
        one()
    return (time.process_time() - start) / (steps * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--paper-seconds", type=float, default=0.25)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"{'method':<26} {'size':<6} {'frames':>6} {'s/example':>10} {'GFLOP/example':>14} {'GFLOP/s':>8} "
          f"{'profile examples':>17} {'projected training':>19}")
    for cls in (UDTSeparation, SupervisedVAESeparation):
        for size, (n_fft, hop, seconds) in SIZES.items():
            front = PowerSpectrogram(n_fft, hop)
            frames = front.frames(int(seconds * SR))
            timed_seconds = min(seconds, args.paper_seconds) if size == "paper" else seconds
            timed_frames = front.frames(int(timed_seconds * SR))
            batch = 1 if size == "paper" else 4
            per = seconds_per_example(cls, front, timed_frames, batch, args.steps) * frames / timed_frames
            gflop = flops_per_example(cls, front, frames) / 1e9
            total = per * PROFILE_EXAMPLES[size]
            print(f"{cls.registered_name if hasattr(cls, 'registered_name') else cls.__name__:<26} {size:<6} "
                  f"{frames:>6} {per:>10.3f} {gflop:>14.2f} {gflop / per:>8.1f} {PROFILE_EXAMPLES[size]:>17} "
                  f"{total / 3600:>17.2f} h")
    print("paper size timed on", args.paper_seconds, "s snippets and scaled linearly to 2 s; CPU time, one process")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
