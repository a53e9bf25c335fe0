"""Which devices this machine offers: found without initialising CUDA, so any process may ask; and the
one way a worker process is pinned to its device.

It sits below the methods and the scheduler: fitting code asks it how large a batch to fit, the scheduler
asks it which devices to spread workers over, and a worker (of cells or of training jobs) pins itself.
"""
from __future__ import annotations

import os
import shutil
import subprocess


def visible_gpus() -> list[str]:
    """CUDA devices visible to this process, found without initialising CUDA here."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
        return [f"cuda:{i}" for i in range(len(ids))]
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
            return [f"cuda:{i}" for i, line in enumerate(l for l in listing.splitlines() if l.startswith("GPU "))]
        except (OSError, subprocess.SubprocessError):
            return []
    return []


def runs_here(backend: str, scheduler_address: str | None = None) -> bool:
    """Whether a backend's workers run on this machine (a Dask scheduler's or SLURM's have their own GPUs)."""
    return backend != "submitit" and not scheduler_address


def device_pool(devices: str | None = None, here: bool = True) -> list[str]:
    """``--devices``: "cpu", "cuda", "cuda:0,cuda:1", or None for every visible GPU (else the CPU). A device
    that is not one of these, or (``here``: the workers run on this machine) a GPU this machine does not
    show, is a ValueError before anything runs, so no record names a device it did not run on."""
    if devices in (None, "", "auto"):
        return visible_gpus() or ["cpu"]
    if devices == "cuda":
        gpus = visible_gpus()
        if not gpus:
            raise ValueError("--devices cuda: no CUDA device is visible")
        return gpus
    pool = [d.strip() for d in devices.split(",") if d.strip()]
    for device in pool:
        if device != "cpu" and not (device.startswith("cuda:") and device[5:].isdigit()):
            raise ValueError(f"--devices {devices}: {device!r} is not a device (cpu, cuda, or cuda:N)")
        if here and device.startswith("cuda:") and device not in visible_gpus():
            shown = ", ".join(visible_gpus()) or "none"
            raise ValueError(f"--devices {devices}: this machine has no {device} (its GPUs: {shown})")
    return pool


_PINNED: str | None = None


def pin(device: str) -> str:
    """Pin this process to ``device`` ("cpu", "cuda:1", ...) and return its name inside the process ("cuda"
    for the one GPU it then sees). Call before CUDA initialises: only the first call pins, and a process keeps
    that device for its life (later calls get the first device's local name)."""
    global _PINNED
    if _PINNED is None:
        if device.startswith("cuda:"):
            os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        _PINNED = device
    return "cuda" if _PINNED.startswith("cuda:") else _PINNED


def pinned_device() -> str | None:
    """The device this process was pinned to (its name on the machine, "cuda:1"), None before ``pin``."""
    return _PINNED


def default_jobs(pool: list[str]) -> int:
    """Workers per device: one per GPU, one per core on the CPU."""
    return max(1, os.cpu_count() or 1) if pool == ["cpu"] else 1
