"""The fitting work of a suite's profile, counted from its cells: what the speed projections multiply.

Each deep-prior cell is one fit per prior (a ``dap-separation`` cell fits three: two sources and a mask) of
``iterations`` steps on a clip of the dataset's ``seconds``, scored at every ``trace_every``-th iterate with
the cell's metrics (only the trace-safe ones unless ``trace_all_metrics``). Cells of methods that fit nothing
(identity, Wiener, NMF, ...) are left out: their cost is the harness's, milliseconds per cell.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

PRIORS_PER_CELL = {"dap-separation": 3}


@dataclass(frozen=True)
class Fits:
    """A group of cells with the same network and clip length: ``iterations`` summed over their fits."""

    family: str  # "spectral" | "demucs" | "wave-unet"
    design: str
    seconds: float


@dataclass(frozen=True)
class TracePoints:
    """Trace points scored with one set of metrics on clips of one length."""

    metrics: tuple[str, ...]
    all_metrics: bool
    seconds: float


def network_of(method: dict) -> tuple[str, str] | None:
    """(family, design) of a deep-prior method configuration, None for a method that fits nothing."""
    name, params = method["name"], method.get("params", {})
    if name.startswith("unet-"):
        return "spectral", name.removeprefix("unet-")
    if name == "dap-separation":
        return "spectral", params.get("prior", "exp-dense")
    if name == "waveform-demucs":
        return "demucs", params.get("variant", "demucs")
    if name == "wave-unet":
        return "wave-unet", "wave-unet"
    return None


def profile_work(cells) -> tuple[Counter, Counter]:
    """(fitting iterations per ``Fits``, trace points per ``TracePoints``) of these cells."""
    iterations, points = Counter(), Counter()
    for cell in cells:
        network = network_of(cell.method)
        protocol = cell.config.get("protocol", {})
        if network is None or not protocol.get("iterations"):
            continue
        seconds = float(cell.dataset["seconds"])
        n = int(protocol["iterations"])
        iterations[Fits(*network, seconds)] += n * PRIORS_PER_CELL.get(cell.method["name"], 1)
        every = protocol.get("trace_every") or 0
        if every:
            metrics = tuple(m["name"] for m in cell.config["metrics"])
            points[TracePoints(metrics, bool(protocol.get("trace_all_metrics")), seconds)] += n // every
    return iterations, points
