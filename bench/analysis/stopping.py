"""Blind stopping rules: pick an iterate of a deep-prior fit from what a user of the method could know.

A rule sees only ``BlindTrace``: per traced iterate its iteration, the fit's loss, the residual against the
observation, the windowed moving variance of the iterates and, where the fit held observed samples out of
its loss (a prior's ``holdout`` parameter), its loss on them, plus the noise level where the task states
it. It never sees the clean reference or any score (``BlindTrace.from_trace`` reads only the ``stats`` of a
trace point). The harness samples the fit at its trace points (``trace_every``), so every window and
patience below counts traced iterates, not optimiser steps.

A rule that never triggers means the fit ran to the end: it picks the last traced iterate. A rule that
cannot apply to a task (the discrepancy principle without a stated noise level, self-validation without
held-out samples) raises ``NotApplicable``.

The variance, plateau and self-validation rules wait until the fit has started: until an iterate explains
at least ``START_FRACTION`` of the observation's energy (its residual is at most 1 - START_FRACTION of the
observation's mean square). A prior whose output begins far from the observation (the waveform Demucs at lr
1e-4) changes little and lowers its loss slowly at first; without this, on a real speech clip with Gaussian
noise of sigma 0.1 (benchmarks/suites/stopping-rules-speech-check.toml), ES-WMV stopped at iteration 220
and the plateau rule at 110 of a fit whose SNR was still rising at 600 (5.97 dB); with it both kept going.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

WMV_WINDOW = 5  # traced iterates per variance window (Wang et al. 2023 use 100 optimiser steps)
WMV_PATIENCE = 10  # traced points without a new variance minimum before ES-WMV stops
PLATEAU_WINDOW = 5  # traced points over which the loss's relative improvement is measured
PLATEAU_THRESHOLD = 0.01  # relative improvement below which the loss counts as flat
PLATEAU_PATIENCE = 3  # consecutive flat points before the plateau rule stops
HOLDOUT_PATIENCE = 10  # traced points without a new held-out loss minimum before self-validation stops
DISCREPANCY_TAU = 1.0  # Morozov's factor: stop once the residual mean square is <= tau * sigma^2
START_FRACTION = 0.1  # share of the observation's energy an iterate must explain before wmv, plateau, holdout look


class NotApplicable(Exception):
    """The rule needs something this task does not state (its message says what)."""


@dataclass(frozen=True)
class BlindTrace:
    """What a blind rule may read: per traced iterate (in order) the iteration and its blind statistics."""

    iterations: list[int]
    loss: list[float | None]
    residual: list[float | None]
    wmv: list[float | None]
    noise_std: float | None = None  # the corruption's stated standard deviation, where it states one
    observation_power: float | None = None  # mean square of the observation (the residual of silence)
    heldout_loss: list[float | None] | None = None  # the fit's loss on the samples it held out, if any

    @classmethod
    def from_trace(cls, trace: list[dict], noise_std: float | None = None) -> "BlindTrace":
        stats = [point.get("stats") or {} for point in trace]
        power = next((s["observation_power"] for s in stats if s.get("observation_power") is not None), None)
        heldout = [s.get("heldout_loss") for s in stats]
        return cls([int(p["iteration"]) for p in trace], [s.get("loss") for s in stats],
                   [s.get("residual") for s in stats], [s.get("wmv") for s in stats], noise_std, power,
                   heldout if any(v is not None for v in heldout) else None)

    def started(self) -> int:
        """Index of the first traced iterate that explains ``START_FRACTION`` of the observation's energy
        (0 where the trace cannot tell: no residuals or no observation power, as in older records)."""
        if not self.observation_power:
            return 0
        bound = (1 - START_FRACTION) * self.observation_power
        for k, value in enumerate(self.residual):
            if value is not None and value <= bound:
                return k
        return len(self.iterations) if any(v is not None for v in self.residual) else 0


def window_variance(iterates: list[np.ndarray]) -> float:
    """Mean squared deviation of the iterates from their mean, per sample (ES-WMV's VAR over one window)."""
    stack = np.stack([np.asarray(x, dtype=np.float64) for x in iterates])
    return float(np.mean((stack - stack.mean(axis=0)) ** 2))


def residual(iterate: np.ndarray, observation: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """Mean square of observation minus iterate over the observed samples (a set of sources is summed)."""
    x = np.asarray(iterate, dtype=np.float64)
    y = np.asarray(observation, dtype=np.float64)
    if x.ndim == y.ndim + 1:  # separation: the sources should add up to the mixture
        x = x.sum(axis=0)
    if x.shape != y.shape:
        return None
    diff = (y - x) ** 2
    if mask is not None and np.shape(mask) == diff.shape[-1:]:
        observed = np.asarray(mask) > 0.5
        return float(diff[..., observed].mean()) if observed.any() else None
    return float(diff.mean())


def _last(trace: BlindTrace) -> int | None:
    return trace.iterations[-1] if trace.iterations else None


def _minimum_with_patience(trace: BlindTrace, values: list[float | None], patience: int) -> int | None:
    """The iterate of the smallest value once ``patience`` traced points have passed without a new minimum,
    looking from the fit's start on; the last iterate if that never happens."""
    best, best_at, since = None, None, 0
    start = trace.started()
    for iteration, value in zip(trace.iterations[start:], values[start:]):
        if value is None:
            continue
        if best is None or value < best:
            best, best_at, since = value, iteration, 0
        else:
            since += 1
            if since >= patience:
                return best_at
    return _last(trace)


def wmv(trace: BlindTrace, patience: int = WMV_PATIENCE) -> int | None:
    """ES-WMV (Wang et al. 2023): the window whose variance was the minimum once ``patience`` traced points
    have passed without a new minimum; the variance of a window is stored at the window's first iterate."""
    return _minimum_with_patience(trace, trace.wmv, patience)


def holdout(trace: BlindTrace, patience: int = HOLDOUT_PATIENCE) -> int | None:
    """Self-validation (Li et al. 2021): the iterate with the smallest loss on the observed samples the fit
    held out, once ``patience`` traced points have passed without a new minimum. A fit that has started to
    reproduce its noise (or anything else the held-out samples do not share) stops improving on them."""
    if trace.heldout_loss is None:
        raise NotApplicable("needs a fit that holds observed samples out of its loss (the prior's holdout parameter)")
    return _minimum_with_patience(trace, trace.heldout_loss, patience)


def plateau(trace: BlindTrace, window: int = PLATEAU_WINDOW, threshold: float = PLATEAU_THRESHOLD,
            patience: int = PLATEAU_PATIENCE) -> int | None:
    """The iterate at which the loss has improved by less than ``threshold`` (relative) over the last
    ``window`` traced points, ``patience`` points in a row."""
    flat = 0
    for k in range(trace.started() + window, len(trace.iterations)):
        before, now = trace.loss[k - window], trace.loss[k]
        if before is None or now is None:
            flat = 0
            continue
        gain = (before - now) / abs(before) if before else 0.0
        flat = flat + 1 if gain < threshold else 0
        if flat >= patience:
            return trace.iterations[k]
    return _last(trace)


def discrepancy(trace: BlindTrace, tau: float = DISCREPANCY_TAU) -> int | None:
    """Morozov's discrepancy principle: the first iterate whose residual mean square against the observation
    is at most tau * sigma^2, sigma the noise level the task states."""
    if trace.noise_std is None:
        raise NotApplicable("needs the noise level, which only gaussian-noise with a stated std gives")
    bound = tau * trace.noise_std ** 2
    for iteration, value in zip(trace.iterations, trace.residual):
        if value is not None and value <= bound:
            return iteration
    return _last(trace)


BLIND_RULES: dict[str, Callable[[BlindTrace], int | None]] = {
    "wmv": wmv, "plateau": plateau, "discrepancy": discrepancy, "holdout": holdout}
