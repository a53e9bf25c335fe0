"""Run one cell: load the clip, corrupt it, restore it, score it; never raise for a method's failure.

The path is straight: dataset -> corruption -> method (which sees only ``Observation.for_method()``) ->
metrics (which never see the method). Every outcome becomes a record; a method that raises, runs out of
memory, returns NaN/Inf or the wrong shape fails its cell with the reason, and the run goes on.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import resource
import sys
import time
import traceback
from typing import Any

import numpy as np

from bench.audio import Estimate
from bench.cells import Cell
from bench.corruptions import build_corruption
from bench.dataset import build_dataset
from bench.method import CellTimeout, RunContext, build_method
from bench.metrics import Metric, MetricUndefined, get_metric
from bench.provenance import provenance
from bench.seeds import item_seed


class MethodFailure(Exception):
    """The method's output is unusable (non-finite values, wrong shape)."""


def run_cell(cell: Cell, device: str = "cpu", data_root=None) -> dict:
    started = time.monotonic()
    _reset_peak_memory(device)
    record: dict[str, Any] = {"key": cell.key, "config": cell.config, "labels": cell.labels, "device": device,
                              "status": "ok", "error": None}
    try:
        record.update(_evaluate(cell, device, data_root, started))
    except CellTimeout as exc:
        record.update(status="timeout", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a failing cell must not stop the run
        record.update(status="failed", error=_describe(exc))
    record["wall_time_s"] = time.monotonic() - started
    record.update(_peak_memory(device))
    record["provenance"] = provenance()
    record["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return record


def _evaluate(cell: Cell, device: str, data_root, started: float) -> dict:
    config = cell.config
    ds = config["dataset"]
    dataset = build_dataset(ds["name"], ds["params"], data_root)
    clip = dataset.load(config["item"], sr=ds["sample_rate"], seconds=ds["seconds"],
                        rng=np.random.default_rng(item_seed(ds["name"], config["item"])))
    corruption = build_corruption(config["corruption"]["name"], config["corruption"]["params"], data_root)
    observation = corruption.apply(clip, np.random.default_rng(cell.corruption_seed))
    metrics = [get_metric(m["name"]) for m in config["metrics"]]
    scorer = _Scorer(metrics, observation.reference, observation.sr)

    input_scores, input_errors = scorer.score(observation.baseline_estimate())
    trace: list[dict] = []

    def on_trace(iteration: int, signal: np.ndarray) -> None:
        if _shape_ok(signal, observation.reference) and np.all(np.isfinite(signal)):
            scores, _ = scorer.score(signal, trace_only=True)
            trace.append({"iteration": int(iteration), "scores": scores})

    timeout = cell.labels.get("timeout_s")
    context = RunContext(device=device, seed=cell.method_seed, protocol=dict(config["protocol"]),
                         trace_callback=on_trace, deadline=started + timeout if timeout else None)
    method = build_method(config["method"]["name"], config["method"]["params"])
    result = method.restore(observation.for_method(), context)
    estimate = result if isinstance(result, Estimate) else Estimate(result)
    _check_estimate(estimate.signal, observation.reference)

    scores, errors = scorer.score(estimate.signal)
    scores.update(scorer.improvements(scores, input_scores))
    return {"scores": scores, "input_scores": input_scores, "oracle_scores": _oracle(trace, metrics),
            "metric_errors": {**{f"input:{k}": v for k, v in input_errors.items()}, **errors},
            "trace": trace, "corruption_info": _plain(observation.info), "estimate_info": _plain(estimate.info)}


class _Scorer:
    def __init__(self, metrics: list[Metric], reference: np.ndarray, sr: int):
        self.metrics, self.reference, self.sr = metrics, reference, sr

    def score(self, estimate: np.ndarray, trace_only: bool = False) -> tuple[dict, dict]:
        scores: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        for m in self.metrics:
            if m.base is not None or (trace_only and not m.trace_safe):
                continue
            try:
                values = m.compute(self.reference, estimate, self.sr)
            except MetricUndefined as exc:
                values, errors[m.name] = {o: None for o in m.output_names}, str(exc)
            scores.update({k: (None if v is None or not math.isfinite(v) else v) for k, v in values.items()})
        return scores, errors

    def improvements(self, scores: dict, input_scores: dict) -> dict:
        out = {}
        for m in self.metrics:
            if m.base is not None:
                a, b = scores.get(m.base), input_scores.get(m.base)
                out[m.name] = None if a is None or b is None else a - b
        return out


def _oracle(trace: list[dict], metrics: list[Metric]) -> dict:
    """Best value each output reached over the traced iterates (each output keeps its own best iterate)."""
    if not trace:
        return {}
    directions = {o.name: o.higher_is_better for m in metrics for o in m.outputs}
    best: dict[str, float] = {}
    for point in trace:
        for name, value in point["scores"].items():
            if value is None:
                continue
            better = max if directions.get(name, True) else min
            best[name] = value if name not in best else better(best[name], value)
    return best


def _shape_ok(signal: np.ndarray, reference: np.ndarray) -> bool:
    return np.shape(signal) == np.shape(reference)


def _check_estimate(signal: np.ndarray, reference: np.ndarray) -> None:
    if not _shape_ok(signal, reference):
        raise MethodFailure(f"method returned shape {np.shape(signal)}, expected {np.shape(reference)}")
    if not np.all(np.isfinite(signal)):
        bad = int(np.size(signal) - np.count_nonzero(np.isfinite(signal)))
        raise MethodFailure(f"method returned non-finite values (NaN/Inf in {bad} samples)")


def _describe(exc: BaseException) -> str:
    kind = type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or kind == "OutOfMemoryError":
        prefix = "out of memory: "
    else:
        prefix = ""
    tail = "".join(traceback.format_exception(exc)[-6:])
    return f"{prefix}{kind}: {exc}\n{tail}"[:4000]


def _plain(value):
    """JSON-friendly copies of info dicts (numpy scalars and small arrays become Python values)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"<array {value.shape}>"
    if hasattr(value, "item"):
        return value.item()
    return value


def _reset_peak_memory(device: str) -> None:
    try:  # Linux: writing 5 resets the process's peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_memory(device: str) -> dict:
    peak_rss = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak_rss = int(line.split()[1]) / 1024
    except OSError:
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"peak_rss_mb": peak_rss, "peak_cuda_mb": None}
    torch = sys.modules.get("torch")
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def pin_device(device: str) -> None:
    """Make a CUDA device the only one this process sees; call before CUDA initialises."""
    if device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
