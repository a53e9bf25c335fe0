"""Precision that is proven on this machine before it is trusted: probe each candidate configuration in a child.

"Native bf16" is a statement about the instruction set, not about the kernels a given torch build runs on it:
on an AMD Zen 4/5 CPU (AVX-512 BF16, no AMX) with torch 2.13, oneDNN's bf16 channels-last backward
convolution segfaults for dilations of 9 and more at most shapes, and inside the spectral U-Nets for the
constant-dilation design too (issue 30). So no rule about flags or dilations decides; a probe does.

``resolve(requested, target, chain)``: the candidates of ``chain`` (``candidates_for``: for ``auto`` where bf16
is native, bf16 channels-last, bf16 in the default layout, float32; elsewhere float32 alone) are tried in
order. Each is run as one forward and backward pass of the target network at the target shape in a child
process (``python -m bench.components.precision_probe``); a child that dies of a signal, passes its time limit
(``$BENCH_PROBE_TIMEOUT_S``, default 120 s: torch's import and the network's build included) or yields a
non-finite loss, output or parameter refuses its candidate, and the next is tried. A float32 candidate with
nothing after it is not probed: there is nothing left to fall back to, so it would run either way (a crash
there fails its cell as any crash does). So on a CPU without native bf16 ``auto`` costs no probe at all.

Verdicts are kept per machine (``machine()``: CPU model and flags, torch and oneDNN versions, the kernel
dispatch variables, the device), target and candidate, in ``$BENCH_CACHE/precision-probes/`` (one file per
verdict, written atomically: two workers may both probe, and the last write wins with the same verdict;
``BENCH_CACHE=off``: kept for the process only). Delete the folder to probe again (after a driver update).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TIMEOUT_S = 120.0
RELEVANT_FLAGS = ("avx512_bf16", "amx_bf16", "avx512f", "avx2")
DISPATCH_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")


@dataclass(frozen=True)
class Candidate:
    """One configuration: ``name`` goes into the cell key and the record; ``runner`` ("module:function",
    called in the child with the target and the candidate) is the probe; tests plant other runners."""

    name: str
    bf16: bool
    channels_last: bool
    runner: str = "bench.components.probe_step:forward_backward"


BF16_CHANNELS_LAST = Candidate("bf16-channels-last", bf16=True, channels_last=True)
BF16_NCHW = Candidate("bf16-nchw", bf16=True, channels_last=False)
FP32 = Candidate("fp32", bf16=False, channels_last=False)
BY_NAME = {c.name: c for c in (BF16_CHANNELS_LAST, BF16_NCHW, FP32)}


def candidates_for(requested: str, fast: bool) -> list[Candidate]:
    """The candidates of a precision setting, in order; ``fast``: bf16 is native on the device (CUDA, or a
    CPU with AMX or AVX-512 BF16 for a prior that uses it there)."""
    if requested == "auto":
        return [BF16_CHANNELS_LAST, BF16_NCHW, FP32] if fast else [FP32]
    if requested == "bf16":
        return [BF16_CHANNELS_LAST, BF16_NCHW]
    if requested == "fp32":
        return [FP32]
    raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', not {requested!r}")


@dataclass
class Resolution:
    """What a precision setting resolved to: ``ran`` (None where every candidate was refused) and the
    candidates refused on the way, each with its reason."""

    requested: str
    ran: Candidate | None
    refused: list[tuple[str, str]] = field(default_factory=list)

    def record(self, compiled: bool) -> dict:
        """The record's ``precision`` field."""
        return {"requested": self.requested, "ran": self.ran.name if self.ran else None, "compiled": bool(compiled),
                "refused": [{"candidate": name, "reason": reason} for name, reason in self.refused]}

    def refusal_line(self) -> str:
        """One line for a cell whose precision was refused: the cause and the way out."""
        why = "; ".join(f"{name} refused: {reason}" for name, reason in self.refused)
        return (f"precision = \"{self.requested}\" cannot run on this machine ({why}); set precision = \"fp32\" "
                f"or \"auto\" in the method's params")


class PrecisionRefused(RuntimeError):
    """A cell's precision was refused by the probe on this machine; the message is one line."""


def resolve(requested: str, target: dict, chain: list[Candidate], *, timeout_s: float | None = None) -> Resolution:
    """The first candidate of ``chain`` that is not refused on this machine (see the module docstring)."""
    resolution = Resolution(requested, None)
    for i, candidate in enumerate(chain):
        reason = None if _unprobed(candidate, chain[i + 1:]) else verdict(target, candidate, timeout_s=timeout_s)
        if reason is None:
            resolution.ran = candidate
            return resolution
        resolution.refused.append((candidate.name, reason))
    return resolution


def check_promised(requested: str, promised: str, target: dict, chain: list[Candidate], *,
                   timeout_s: float | None = None) -> Resolution:
    """A worker's re-check of the configuration a cell's key promises: it runs where it is not refused here
    (the candidates before it in ``chain`` are looked up only to say in the record why they were not
    chosen); else ``PrecisionRefused`` with one line: the cause and the way out."""
    names = [c.name for c in chain]
    at = names.index(promised) if promised in names else None
    candidate = chain[at] if at is not None else BY_NAME.get(promised)
    if candidate is None:
        raise PrecisionRefused(f"this cell's key promises precision {promised!r}, which this bench does not know "
                               f"(it knows {', '.join(BY_NAME)})")
    before, after = (chain[:at], chain[at + 1:]) if at is not None else ([], [])
    refused = [(c.name, reason) for c in before
               if (reason := verdict(target, c, timeout_s=timeout_s)) is not None]
    reason = None if _unprobed(candidate, after) else verdict(target, candidate, timeout_s=timeout_s)
    if reason is None:
        return Resolution(requested, candidate, refused)
    here = resolve(requested, target, chain, timeout_s=timeout_s)
    if here.ran is None:
        raise PrecisionRefused(here.refusal_line())
    raise PrecisionRefused(
        f"this cell's key promises precision {promised}, which this machine refuses ({reason}; here it would "
        f"run {here.ran.name}); run it on a machine of the kind that planned it, or plan the run on this "
        "machine (bench run here) so that its key says what runs here")


def compile_requested() -> bool:
    """``$BENCH_COMPILE`` set to 1 (``bench run --compile``): fit with torch.compile."""
    return os.environ.get("BENCH_COMPILE", "").strip().lower() in ("1", "true", "yes")


# -- planning: the configuration a cell's key promises ----------------------------------------------------
PLANNING_SECONDS = 4.0  # the clip length probed where a table's clips have none (whole recordings)


def planning_device() -> str:
    """The kind of device a run planned here uses: ``$BENCH_PLAN_DEVICE`` (``bench run`` sets it from
    ``--devices``), else CUDA where a GPU is visible, else the CPU."""
    from bench.running.devices import visible_gpus

    return os.environ.get("BENCH_PLAN_DEVICE") or ("cuda" if visible_gpus() else "cpu")


def planned_precision(method: str, params: dict, dataset: dict) -> dict | None:
    """A cell configuration's ``precision`` for a fitted prior at a dataset's clips: {"ran": the candidate
    this machine's probe chose (where every one is refused, the first: the worker then fails the cell with
    the reason), "compile": whether the fit is asked to compile}; None for a method without one."""
    from bench.core.registry import METHODS

    cls = METHODS.get(method).obj
    if not (isinstance(cls, type) and hasattr(cls, "plan_precision")):
        return None
    return {"ran": _planned(method, json.dumps(params, sort_keys=True, default=str), int(dataset["sample_rate"]),
                            dataset.get("seconds"), planning_device()),
            "compile": compile_requested()}


@functools.lru_cache(maxsize=None)
def _planned(method: str, params: str, sample_rate: int, seconds: float | None, device: str) -> str:
    from types import SimpleNamespace

    import numpy as np

    from bench.components.method import build_method
    from bench.running.devices import visible_gpus

    prior = build_method(method, json.loads(params))
    if device == "cuda" and not visible_gpus():  # planned for GPUs elsewhere (a login node): their workers check
        return prior.precision_chain(device)[0].name
    samples = int(round((seconds or PLANNING_SECONDS) * sample_rate))
    shape = prior.input_shape(SimpleNamespace(signal=np.zeros(samples, dtype=np.float32), known={}))
    resolution = prior.plan_precision(shape, device)
    return (resolution.ran or prior.precision_chain(device)[0]).name


def _unprobed(candidate: Candidate, rest: list[Candidate]) -> bool:
    return not candidate.bf16 and not rest  # float32 as the last resort: nothing to fall back to


# -- verdicts: cached per machine, target and candidate -------------------------------------------------
_memo: dict[str, str | None] = {}


def verdict(target: dict, candidate: Candidate, *, timeout_s: float | None = None) -> str | None:
    """None where ``candidate`` runs on this machine at ``target``, else the reason it was refused."""
    key = hashlib.sha256(json.dumps({"machine": machine(target.get("device", "cpu")), "target": target,
                                     "candidate": [candidate.name, candidate.runner]},
                                    sort_keys=True, default=str).encode()).hexdigest()[:40]
    if key in _memo:
        return _memo[key]
    path = _cache_path(key)
    if path is not None and path.is_file():
        try:
            _memo[key] = json.loads(path.read_text())["reason"]
            return _memo[key]
        except (OSError, ValueError, KeyError):  # a damaged entry: probe again and replace it
            pass
    reason = probe(target, candidate, timeout_s=timeout_s)
    _memo[key] = reason
    if path is not None:
        _write_atomically(path, {"reason": reason, "candidate": candidate.name, "target": target,
                                 "machine": machine(target.get("device", "cpu"))})
    return reason


def _cache_path(key: str) -> Path | None:
    from bench.components.clip_cache import cache_root

    root = cache_root()
    return None if root is None else root / "precision-probes" / f"{key}.json"


def _write_atomically(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, path)
    except OSError:  # a read-only cache: the verdict still holds for this process
        pass


def probe(target: dict, candidate: Candidate, *, timeout_s: float | None = None) -> str | None:
    """Run ``candidate``'s runner on ``target`` in a child process; None if it passed, else why not."""
    if timeout_s is None:
        timeout_s = float(os.environ.get("BENCH_PROBE_TIMEOUT_S") or DEFAULT_TIMEOUT_S)
    spec = json.dumps({"target": target, "candidate": candidate.__dict__})
    try:
        child = subprocess.run([sys.executable, "-m", "bench.components.probe_step", spec], capture_output=True,
                               text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"the probe hung (no answer within {timeout_s:g} s)"
    if child.returncode < 0:
        try:
            name = signal.Signals(-child.returncode).name
        except ValueError:
            name = f"signal {-child.returncode}"
        return f"the probe died with {name}"
    if child.returncode != 0:
        lines = (child.stdout + child.stderr).strip().splitlines()
        return f"the probe failed: {lines[-1] if lines else f'exit code {child.returncode}'}"
    return None


class NonFinite(Exception):
    pass


# -- what a crash report needs ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _cpu() -> tuple[str, frozenset]:
    model, flags = "unknown CPU", frozenset()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")) and not flags:
                    flags = frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, flags


@functools.lru_cache(maxsize=None)
def onednn_version() -> str | None:
    import torch

    found = re.search(r"(?:MKL-DNN|oneDNN)\s+(v[\w.]+)", torch.__config__.show())
    return found.group(1) if found else None


def machine(device: str = "cpu") -> dict:
    """What a probe's verdict depends on: CPU model and flags, torch and oneDNN versions, kernel dispatch
    variables and the device."""
    import torch

    model, flags = _cpu()
    info = {"cpu": model, "flags": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16],
            "torch": torch.__version__, "onednn": onednn_version(), "device": str(device),
            "dispatch": {v: os.environ[v] for v in DISPATCH_VARIABLES if v in os.environ}}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def crash_facts() -> str:
    """torch and oneDNN versions and the CPU's bf16-relevant flags, in a few words for an error line."""
    import torch  # (seconds to import where the run's process had not: a crash is worth them)

    model, flags = _cpu()
    have = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in RELEVANT_FLAGS)
    return f"torch {torch.__version__}, oneDNN {onednn_version()}, CPU {model} ({have})"
