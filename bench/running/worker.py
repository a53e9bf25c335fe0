"""Run one cell: load the clip, corrupt it, restore it, score it; never raise for a method's failure.

The path is straight: dataset -> corruption -> method (which sees only ``Observation.for_method()``) ->
metrics (which never see the method). Every outcome becomes a record; a method that raises, runs out of
memory, returns NaN/Inf or the wrong shape fails its cell with the reason, and the run goes on.
"""
from __future__ import annotations

import datetime as _dt
import resource
import sys
import time
from typing import Any

import numpy as np

from bench.analysis.rules import picks, stated_noise_std
from bench.analysis.stopping import WMV_WINDOW, residual, window_variance
from bench.components.dataset import build_dataset
from bench.components.method import CellTimeout, RunContext, build_method
from bench.core.audio import Estimate, Observation
from bench.core.failures import describe_failure
from bench.core.jsonable import to_json
from bench.core.progress import FitProgress
from bench.core.provenance import provenance
from bench.core.seeds import item_seed
from bench.corruptions import build_corruption
from bench.metrics import get_metric, output_spec
from bench.planning.cells import Cell
from bench.records.record import of_cell
from bench.running import trace_scoring
from bench.running.devices import pin as pin_device  # noqa: F401 - old import path of the one pinning path
from bench.running.scoring import Scorer


class MethodFailure(Exception):
    """The method's output is unusable (non-finite values, wrong shape)."""


def run_cell(cell: Cell, device: str = "cpu", data_root=None) -> dict:
    return run_cells([cell], device, data_root)[0]


def run_cells(cells: list[Cell], device: str = "cpu", data_root=None, *, device_label: str | None = None) -> list[dict]:
    """Run cells that share a method configuration; one ``restore_batch`` call when the method has it.
    ``device_label``: the device the records name, where it is not ``device`` (a pinned ``cuda:1`` that
    this process sees as ``cuda``).

    Each cell is prepared (clip, corruption, input scores) on its own, so a bad file fails only its cell.
    A batched method fits all prepared cells at once; if it raises, every cell of the batch fails with
    the reason. Wall time and peak memory of a batched cell are those of the whole batch.
    """
    started = time.monotonic()
    _reset_peak_memory(device)
    runs = [_CellRun(cell, device, data_root, started) for cell in cells]
    ready = [r for r in runs if r.prepare()]
    if ready:
        method = None
        try:
            method = _build(cells[0], device)
        except Exception as exc:  # noqa: BLE001
            for r in ready:
                r.fail(exc)
        if method is not None and len(ready) > 1 and hasattr(method, "restore_batch"):
            try:
                results = method.restore_batch([r.observation.for_method() for r in ready],
                                               [r.context for r in ready])
                for r, result in zip(ready, results, strict=True):
                    r.finish(result)
            except Exception as exc:  # noqa: BLE001 - a failing batch must not stop the run
                for r in ready:
                    r.fail(exc)
        elif method is not None:
            for r in ready:
                try:
                    r.finish(method.restore(r.observation.for_method(), r.context))
                except Exception as exc:  # noqa: BLE001 - a failing cell must not stop the run
                    r.fail(exc)
    memory = _peak_memory(device)
    elapsed = time.monotonic() - started
    finished_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return [r.record(device=device_label or device, wall_time_s=r.wall_time(elapsed), provenance=provenance(),
                     finished_at=finished_at, batch_size=len(cells), **memory) for r in runs]


def reproduce(cell: Cell, device: str = "cpu", data_root=None) -> tuple[Observation, Estimate]:
    """Run one cell's pipeline again exactly as a run does (the same clip, corruption seed, method seed and
    protocol) and return what the method saw and what it made; raises where a run would fail the cell."""
    run = _CellRun(cell, device, data_root, time.monotonic())
    if not run.prepare():
        raise MethodFailure(f"cannot prepare cell {cell.key}: {run.error}")
    method = _build(cell, device)
    result = method.restore(run.observation.for_method(), run.context)
    estimate = result if isinstance(result, Estimate) else Estimate(result)
    _check_estimate(estimate.signal, run.observation.reference)
    return run.observation, estimate


def _build(cell: Cell, device: str):
    """The cell's method; a trained method with its trained weights loaded (``bench.components.training``)."""
    method = build_method(cell.method["name"], cell.method["params"])
    if cell.config.get("training") is not None:
        if not cell.checkpoint:
            raise MethodFailure(f"cell {cell.key} needs the weights of training job {cell.config['training']}, "
                                "and no results folder was given to find them in")
        method.load_trained(cell.checkpoint, device)
    return method


class _CellRun:
    """One cell's way through the stages: prepare -> (method) -> finish, or fail at any point."""

    def __init__(self, cell: Cell, device: str, data_root, started: float):
        self.cell, self.device, self.data_root, self.started = cell, device, data_root, started
        self.status, self.error = "ok", None
        self.results: dict[str, Any] = {}  # the record's fields this cell's run found (bench.records.record)
        self.trace: list[dict] = []
        self.async_trace: trace_scoring.AsyncTrace | None = None  # where its points are scored off this thread
        self.iterates: dict[int, np.ndarray] = {}  # the traced signals, scored again at the rules' picks
        self.blind: dict[int, dict] = {}  # per traced iterate, what a blind stopping rule may read
        self.fit_stats: dict[int, dict] = {}  # the fit's losses at reported iterates (RunContext.fit_stats_callback)
        self.observation_power: float | None = None
        self.own_time: float | None = None

    def prepare(self) -> bool:
        t0 = time.monotonic()
        try:
            config = self.cell.config
            ds = config["dataset"]
            dataset = build_dataset(ds["name"], ds["params"], self.data_root)
            clip = dataset.load(config["item"], sr=ds["sample_rate"], seconds=ds["seconds"],
                                rng=np.random.default_rng(item_seed(ds["name"], config["item"])))
            corruption = build_corruption(config["corruption"]["name"], config["corruption"]["params"],
                                          self.data_root)
            self.observation = corruption.apply(clip, np.random.default_rng(self.cell.corruption_seed))
            self.metrics = [get_metric(m["name"]) for m in config["metrics"]]
            self.scorer = Scorer(self.metrics, self.observation.reference, self.observation.sr,
                                  self.observation.known)
            self.input_scores, self.input_errors = self.scorer.score(self.observation.baseline_estimate())
            timeout = self.cell.run_options.get("timeout_s")
            self.context = RunContext(device=self.device, seed=self.cell.method_seed,
                                      protocol=dict(config["protocol"]), trace_callback=self.on_trace,
                                      deadline=self.started + timeout if timeout else None,
                                      progress=FitProgress.for_cell(self.cell.key),
                                      fit_stats_callback=self.fit_stats.__setitem__,
                                      precision=(config.get("precision") or {}).get("ran"))
            self.async_trace = trace_scoring.start(self.device, [m["name"] for m in config["metrics"]], self.scorer,
                                                   self.input_scores, trace_only=not self.context.trace_all_metrics)
            return True
        except Exception as exc:  # noqa: BLE001 - a bad file or parameter fails this cell only
            self.fail(exc)
            self.own_time = time.monotonic() - t0
            return False

    def on_trace(self, iteration: int, signal: np.ndarray) -> None:
        if _shape_ok(signal, self.observation.reference) and np.all(np.isfinite(signal)):
            self.note_blind(int(iteration), signal)
            if self.async_trace is not None:  # scored off this thread
                return self.async_trace.submit(iteration, signal)
            self.trace.append({"iteration": int(iteration), "scores": self.scorer.trace_point(
                signal, self.input_scores, trace_only=not self.context.trace_all_metrics)})

    def note_blind(self, iteration: int, signal: np.ndarray) -> None:
        """Keep the iterate and what a blind stopping rule may read about it (bench.analysis.stopping): the fit's loss
        (and its held-out loss where the fit holds samples out), the residual against the observation and,
        once a window is full, the moving variance (stored at the window's first iterate)."""
        previous = list(self.iterates)[-(WMV_WINDOW - 1):] if WMV_WINDOW > 1 else []
        if len(previous) == WMV_WINDOW - 1 and previous:
            self.blind[previous[0]]["wmv"] = window_variance([*(self.iterates[i] for i in previous), signal])
        mask = self.observation.known.get("mask")
        if self.observation_power is None:  # the residual of a silent estimate
            self.observation_power = residual(np.zeros_like(self.observation.signal), self.observation.signal, mask)
        self.blind[iteration] = {"loss": None, **self.fit_stats.pop(iteration, {}), "wmv": None,
                                 "residual": residual(signal, self.observation.signal, mask),
                                 "observation_power": self.observation_power}
        self.iterates[iteration] = np.array(signal, copy=True)

    def attach_blind(self) -> None:
        """Put each trace point's blind statistics beside its scores."""
        for point in self.trace:
            point["stats"] = self.blind.get(point["iteration"], {})

    def finish(self, result) -> None:
        try:
            self.collect_async_trace()
            estimate = result if isinstance(result, Estimate) else Estimate(result)
            if "precision" in estimate.info:  # the configuration that ran (bench.components.precision_probe)
                self.results["precision"] = estimate.info.pop("precision")
            _check_estimate(estimate.signal, self.observation.reference)
            scores, errors = self.scorer.score(estimate.signal)
            scores.update(self.scorer.improvements(scores, self.input_scores))
            self.attach_blind()
            self.results.update(
                scores=scores, input_scores=self.input_scores,
                # a method that traces nothing has one iterate, its estimate: that is its oracle too
                oracle_scores=_oracle(self.trace) if self.trace else dict(scores),
                metric_errors={**{f"input:{k}": v for k, v in self.input_errors.items()}, **errors},
                selected=self.selected(scores), trace=self.trace,
                corruption_info=to_json(self.observation.info),
                estimate_info=to_json(estimate.info))
        except Exception as exc:  # noqa: BLE001
            self.fail(exc)

    def selected(self, final_scores: dict) -> dict:
        """Per selection rule (bench.analysis.rules), the iterate it picks and every metric at that iterate; each
        distinct picked iterate is scored once. Without a trace every rule picks the final estimate."""
        # without a trace the estimate is the only iterate: every rule, by any output, picks it
        traced = [m for m in self.metrics
                  if not self.trace or m.trace_safe or m.base is not None or self.context.trace_all_metrics]
        outputs = [o for m in traced for o in m.output_names]
        picked = picks(self.trace, outputs, stated_noise_std(self.cell.config))
        scored: dict[int, dict] = {}
        out = {}
        for rule, (iteration, reason) in picked.items():
            if not self.trace:
                out[rule] = {"iteration": None, "scores": dict(final_scores)}
            elif iteration is None:
                out[rule] = {"iteration": None, "scores": None, "reason": reason}
            else:
                if iteration not in scored:
                    scores, _ = self.scorer.score(self.iterates[iteration])
                    scores.update(self.scorer.improvements(scores, self.input_scores))
                    scored[iteration] = scores
                out[rule] = {"iteration": iteration, "scores": scored[iteration]}
        return out

    def collect_async_trace(self) -> None:
        """Append the points scored off this thread, if any, to the trace (waits for them); a point whose
        scoring failed raises here, after the others are in."""
        if self.async_trace is not None:
            points, failure = self.async_trace.collect()
            self.trace.extend(points)
            if failure is not None:
                raise failure

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, CellTimeout):
            self.status, self.error = "timeout", str(exc)
        else:
            self.status, self.error = "failed", describe_failure(exc)
        try:
            self.collect_async_trace()
        except Exception:  # noqa: BLE001 - the cell has failed already; keep the points that were scored
            pass
        if self.trace:
            self.attach_blind()
            self.results["trace"] = self.trace  # what was seen before the failure helps diagnose it

    def record(self, **finished) -> dict:
        """The cell's record (``bench.records.record``): what its run found and ``finished`` (device, timings)."""
        return of_cell(self.cell, status=self.status, error=self.error, **self.results, **finished)

    def wall_time(self, batch_elapsed: float) -> float:
        return self.own_time if self.own_time is not None else batch_elapsed


def _oracle(trace: list[dict]) -> dict:
    """Best value each output reached over the traced iterates (each output keeps its own best iterate)."""
    if not trace:
        return {}
    best: dict[str, float] = {}
    for point in trace:
        for name, value in point["scores"].items():
            if value is None:
                continue
            spec = output_spec(name)
            better = max if spec is None or spec.higher_is_better else min
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

