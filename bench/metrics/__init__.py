"""Metrics: registered functions with a name, a unit and a direction.

A metric scores an estimate against the clean reference and never sees the method. It may produce several
named outputs (BSS Eval gives SDR, SIR and SAR at once). The harness scores the corrupted input with the
same metrics, so improvements (SI-SNRi, PSNRi) are derived from two scores rather than computed again.

On a set of sources (S, T) every output is the mean over the sources, and each source's own value is kept
beside it as ``<output>_src<k>`` (k = 1..S, in the order of the references), because separation tables
report each source in its own column. ``output_spec`` resolves such a name to its output's unit and direction.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from bench.core.registry import METRICS


class MetricUndefined(Exception):
    """The metric cannot score this pair (PESQ on silence, ...): recorded as a failed metric, not a failed cell."""


class MetricNotApplicable(MetricUndefined):
    """The metric does not apply to this task at all (BSS Eval on a single source): its reason, which starts
    with "not applicable", goes to metric_errors and the cell's other metrics are kept."""

    def __init__(self, reason: str):
        super().__init__(f"not applicable: {reason}")


class Undefined(float):
    """One output with no finite true value (a ratio whose denominator is rounding noise), returned in place of
    its number: a NaN that carries its reason, which ``evaluate`` records in metric_errors."""

    reason: str

    def __new__(cls, reason: str):
        value = super().__new__(cls, "nan")
        value.reason = reason
        return value


def require_variation(signal: np.ndarray, metric_name: str, role: str) -> None:
    """Raise MetricUndefined when ``signal`` is constant (silence included): a ratio whose terms vanish there
    has no value, and an epsilon would make one up (0 dB, above every real negative score)."""
    if np.ptp(signal) == 0:
        what = "silent" if not np.any(signal) else "constant"
        raise MetricUndefined(f"{metric_name} is undefined for a {what} {role}")


def require_sound(signal: np.ndarray, metric_name: str, role: str) -> None:
    """Raise MetricUndefined when ``signal`` is exactly silent."""
    if not np.any(signal):
        raise MetricUndefined(f"{metric_name} is undefined for a silent {role}")


@dataclass(frozen=True)
class Output:
    name: str
    unit: str
    higher_is_better: bool
    description: str = ""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


class Metric:
    """A registered scoring function. ``compute`` returns {output name: value}.

    ``per_source``: the function is defined on single signals (T,) and is applied to each source of an
    (S, T) pair and averaged. ``base``: this metric is the improvement of output ``base`` over the corrupted
    input (estimate score minus input score), computed by the harness.
    """

    def __init__(self, name: str, fn: Callable | None, outputs: tuple[Output, ...], *, version: str = "1",
                 description: str = "", per_source: bool = True, base: str | None = None,
                 trace_safe: bool = True, needs_mask: bool = False):
        self.name = name
        self.fn = fn
        self.outputs = outputs
        self.version = str(version)
        self.description = description
        self.per_source = per_source
        self.base = base
        self.trace_safe = trace_safe  # cheap enough to evaluate on every traced iterate
        self.needs_mask = needs_mask  # fn(reference, estimate, sr, mask): the observation's known sample mask

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    def compute(self, reference: np.ndarray, estimate: np.ndarray, sr: int,
                known: dict | None = None) -> dict[str, float]:
        """``known``: what the observation told the method (``Observation.known``); a mask-aware metric reads
        its sample mask (1 observed, 0 inside the gaps) and is undefined without one."""
        if self.base is not None:
            raise TypeError(f"{self.name} is an improvement metric; the harness derives it from {self.base}")
        reference = np.asarray(reference, dtype=np.float64)
        estimate = np.asarray(estimate, dtype=np.float64)
        if reference.shape != estimate.shape:
            raise ValueError(f"{self.name}: reference {reference.shape} and estimate {estimate.shape} differ in shape")
        fn = self.fn
        if self.needs_mask:
            mask = (known or {}).get("mask")
            if mask is None or np.shape(mask) != reference.shape[-1:]:
                raise MetricUndefined(f"{self.name} needs the observation's gap mask (an inpainting corruption)")
            fn = functools.partial(self.fn, mask=np.asarray(mask) > 0)
        if self.per_source and reference.ndim == 2:
            per = [self._as_dict(fn(r, e, sr)) for r, e in zip(reference, estimate)]
            scores = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
            for index, values in enumerate(per, start=1):
                scores.update({source_output(k, index): v for k, v in values.items()})
            return scores
        return self._as_dict(fn(reference, estimate, sr))

    def _as_dict(self, value) -> dict[str, float]:
        if isinstance(value, dict):
            return {k: v if isinstance(v, Undefined) else float(v) for k, v in value.items()}
        return {self.outputs[0].name: float(value)}


def metric(name: str, *, unit: str = "", higher_is_better: bool = True, version: str = "1",
           outputs: tuple[Output, ...] | None = None, per_source: bool = True, trace_safe: bool = True,
           description: str | None = None, needs_mask: bool = False):
    """Decorator registering ``fn(reference, estimate, sr) -> float | dict`` as a metric (with ``needs_mask``,
    ``fn(reference, estimate, sr, mask)``, mask a boolean array, True on observed samples)."""

    def decorate(fn):
        doc = description or (fn.__doc__ or "").strip().split("\n", 1)[0]
        outs = outputs or (Output(name, unit, higher_is_better, doc),)
        m = Metric(name, fn, outs, version=version, description=doc, per_source=per_source,
                   trace_safe=trace_safe, needs_mask=needs_mask)
        METRICS.add(name, m, version=version, description=doc)
        return fn

    return decorate


def improvement(name: str, base: str, *, version: str = "1", description: str | None = None) -> Metric:
    """Register ``name`` as the improvement of output ``base`` over the corrupted input."""
    doc = description or f"improvement of {base} over the corrupted input (estimate minus input)"
    m = Metric(name, None, (Output(name, "dB", True, doc),), version=version, description=doc, base=base)
    METRICS.add(name, m, version=version, description=doc)
    return m


def get_metric(name: str) -> Metric:
    return METRICS.get(name).obj


def source_output(output_name: str, index: int) -> str:
    """The name of one source's value of an output: ``sdr_v4`` of source 1 is ``sdr_v4_src1``."""
    return f"{output_name}_src{index}"


_SOURCE_SUFFIX = re.compile(r"_src[0-9]+$")


def output_spec(output_name: str) -> Output | None:
    """The Output (unit, direction) of a metric output name, searching every registered metric.

    A per-source name (``si_sdr_src2``) resolves to its output (``si_sdr``).
    """
    for name in (output_name, _SOURCE_SUFFIX.sub("", output_name)):
        for entry in METRICS.entries():
            for o in entry.obj.outputs:
                if o.name == name:
                    return o
    return None


# Checks across the outputs of several metrics: fn(scores) -> {check name: warning}; the warnings join the
# metric errors (the record's metric_errors) while the scores stay (see bench.metrics.bss_eval).
CROSS_CHECKS: list[Callable[[dict], dict[str, str]]] = []


def evaluate(metrics: list[Metric], reference: np.ndarray, estimate: np.ndarray,
             sr: int, known: dict | None = None) -> tuple[dict[str, float | None], dict[str, str]]:
    """Scores of ``estimate`` for every metric that is not an improvement: (scores, errors).

    ``known``: the observation's ``known`` dict, for the mask-aware metrics (bench.metrics.gap).

    A metric that cannot score the pair (MetricUndefined, MetricNotApplicable) gets None for each of its
    outputs and its reason in ``errors``; an output returned as ``Undefined`` is None with its reason under the
    metric's name; any other exception propagates. A cross-metric check that fails (CROSS_CHECKS) adds its
    warning to ``errors`` under the check's name and leaves the scores as they are.
    """
    scores: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for m in metrics:
        if m.base is not None:
            continue
        try:
            values = m.compute(reference, estimate, sr, known)
        except MetricUndefined as exc:
            values, errors[m.name] = {o: None for o in m.output_names}, str(exc)
        reasons = dict.fromkeys(v.reason for v in values.values() if isinstance(v, Undefined))
        if reasons:
            errors[m.name] = "; ".join(reasons)
        scores.update({k: (None if v is None or not np.isfinite(v) else v) for k, v in values.items()})
    for check in CROSS_CHECKS:
        errors.update(check(scores))
    return scores, errors
