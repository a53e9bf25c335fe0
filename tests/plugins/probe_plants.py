"""Probe runners planted by tests/test_precision_probe.py: each runs in a precision probe's child process and
misbehaves as a broken kernel would. Each appends a line to ``$PROBE_PLANT_LOG`` first, so a test counts the
children that were started."""
from __future__ import annotations

import os
import signal
import threading


def _log(name: str) -> None:
    with open(os.environ["PROBE_PLANT_LOG"], "a") as f:
        f.write(name + "\n")


def segfault(target, candidate):
    _log(candidate.name)
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(target, candidate):
    _log(candidate.name)
    threading.Event().wait()


def nan(target, candidate):
    from bench.components.precision_probe import NonFinite

    _log(candidate.name)
    raise NonFinite("non-finite loss, output or gradient")


def runs(target, candidate):
    _log(candidate.name)


def dilated_conv_backward(target, candidate):
    """Issue 30's reproduction: nn.Conv2d(35, 35, 3, dilation=9, padding=9) forward and backward on a
    (1, 35, 256, 64) input in the candidate's precision and layout (a SIGSEGV on AMD Zen 4/5 with torch 2.13
    in bf16 channels-last)."""
    import torch

    _log(candidate.name)
    dtype = torch.bfloat16 if candidate.bf16 else torch.float32
    layout = torch.channels_last if candidate.channels_last else torch.contiguous_format
    conv = torch.nn.Conv2d(35, 35, 3, dilation=9, padding=9).to(dtype=dtype, memory_format=layout)
    x = torch.randn(1, 35, 256, 64, dtype=dtype).contiguous(memory_format=layout).requires_grad_(True)
    conv(x).float().square().mean().backward()
