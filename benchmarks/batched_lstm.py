"""Is there a batched LSTM path for the waveform prior that keeps per-problem weights? An experiment.

The Demucs prior's bottleneck BLSTM has no vmap batching rule in torch 2.13, so a batch of B fits runs it
copy by copy (``bench.components.fitting.Ensemble`` with ``vmappable = False``): B calls of ``nn.LSTM`` (cuDNN on a
GPU, oneDNN on the CPU). The alternative tried here writes the LSTM as what it is, a recurrence of batched
matrix products: the input projections of all time steps for all problems in one ``baddbmm``, then per time
step one ``bmm`` of each problem's hidden state with its own recurrent weights and the gate arithmetic, with
both directions stacked as 2B problems. It is exact (checked against ``nn.LSTM`` here), vmap-free and has
one sequential loop of T steps per layer whatever B is; copy by copy has B library calls per layer.

Run: OMP_NUM_THREADS=1 python benchmarks/batched_lstm.py [--steps 500 --batches 1,4,16 --device cpu]
It prints, per batch size B, the forward + backward time per problem of each path and their ratio.
The Demucs default: 128 channels at the bottleneck (hidden size 128), 4 layers, bidirectional; a 1 s clip
gives about 2,000 bottleneck steps, 0.25 s about 500.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from torch import nn


def stacked_weights(lstms: list[nn.LSTM]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per layer: (W_ih, W_hh, bias), each stacked as (2B, ...): B problems' forward direction, then their
    reverse direction."""
    layers = []
    for layer in range(lstms[0].num_layers):
        per_direction = {name: [] for name in ("ih", "hh", "b")}
        for suffix in ("", "_reverse"):
            for lstm in lstms:
                per_direction["ih"].append(getattr(lstm, f"weight_ih_l{layer}{suffix}"))
                per_direction["hh"].append(getattr(lstm, f"weight_hh_l{layer}{suffix}"))
                per_direction["b"].append(getattr(lstm, f"bias_ih_l{layer}{suffix}")
                                          + getattr(lstm, f"bias_hh_l{layer}{suffix}"))
        layers.append(tuple(torch.stack(per_direction[k]) for k in ("ih", "hh", "b")))
    return layers


def batched_blstm(x: torch.Tensor, layers) -> torch.Tensor:
    """x (B, T, I) -> (B, T, 2H): each problem through its own bidirectional LSTM (PyTorch's gate order
    i, f, g, o), as one recurrence over 2B stacked problems."""
    batch = x.shape[0]
    for w_ih, w_hh, bias in layers:
        both = torch.cat([x, x.flip(1)])  # reverse direction: the same recurrence on the reversed sequence
        inputs = torch.baddbmm(bias.unsqueeze(1), both, w_ih.transpose(1, 2))  # (2B, T, 4H), every step at once
        hidden = w_hh.shape[-1]
        h = both.new_zeros(2 * batch, 1, hidden)
        c = both.new_zeros(2 * batch, hidden)
        outputs = []
        recurrent = w_hh.transpose(1, 2)
        for step in inputs.unbind(1):  # unbind: one gradient buffer for all steps, not one per indexed step
            gates = step + torch.bmm(h, recurrent).squeeze(1)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = (torch.sigmoid(o) * torch.tanh(c)).unsqueeze(1)
            outputs.append(h)
        out = torch.cat(outputs, dim=1)  # (2B, T, H)
        x = torch.cat([out[:batch], out[batch:].flip(1)], dim=2)
    return x


def _timed(run, rounds: int, device: torch.device) -> float:
    run()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter() if device.type == "cuda" else time.process_time()
    for _ in range(rounds):
        run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return (time.perf_counter() - started) / rounds
    return (time.process_time() - started) / rounds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="sequence length at the bottleneck")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batches", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"BLSTM hidden {args.hidden}, {args.layers} layers, {args.steps} steps, on {device}, "
          f"{torch.get_num_threads()} thread(s); forward + backward, seconds per problem")
    for batch in map(int, args.batches.split(",")):
        torch.manual_seed(0)
        lstms = [nn.LSTM(args.hidden, args.hidden, args.layers, bidirectional=True, batch_first=True).to(device)
                 for _ in range(batch)]
        x = torch.randn(batch, args.steps, args.hidden, device=device)

        def copy_by_copy():
            out = torch.stack([lstm(x[b:b + 1])[0][0] for b, lstm in enumerate(lstms)])
            out.square().mean().backward()
            return out

        def batched():
            out = batched_blstm(x, stacked_weights(lstms))
            out.square().mean().backward()
            return out

        with torch.no_grad():
            reference = torch.stack([lstm(x[b:b + 1])[0][0] for b, lstm in enumerate(lstms)])
            error = (batched_blstm(x, stacked_weights(lstms)) - reference).abs().max()
        library = _timed(copy_by_copy, args.rounds, device) / batch
        ours = _timed(batched, args.rounds, device) / batch
        print(f"  B = {batch:>3}: copy by copy {library:.4f} s, batched recurrence {ours:.4f} s "
              f"({library / ours:.2f}x), max |difference| {float(error):.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
