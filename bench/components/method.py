"""The Method interface and the context the harness runs it in."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from bench.core.audio import Estimate, Observation
from bench.core.protocol import Protocol
from bench.core.registry import METHODS


class CellTimeout(Exception):
    """Raised by RunContext.report when a cell runs past its deadline."""


@dataclass
class RunContext:
    """Where and how a method runs one cell.

    ``protocol`` is what the method runs under, resolved when the cells were expanded (``bench.core.protocol``):
    exactly the fields its class declares in ``protocol_defaults``. An iterative method calls
    ``report(iteration, signal)`` every ``trace_every`` iterations (``wants_trace``); the harness scores the
    iterate against the clean reference (which the method never sees) and enforces the deadline there.
    """

    device: str = "cpu"
    seed: int = 0
    protocol: Protocol = field(default_factory=Protocol)
    trace_callback: Callable[[int, np.ndarray], None] | None = None
    deadline: float | None = None  # time.monotonic() value
    # progress(iteration, total, loss): a long fit's state for the run's display (bench.core.progress.FitProgress);
    # ``loss`` may be a callable, read only when the display takes an update
    progress: Callable[[int, int, Any], None] | None = None
    # fit_stats_callback(iteration, {"loss": ..., "heldout_loss": ...}): what the fit knows of a reported
    # iterate (its loss, and its loss on held-out observed samples where it holds some out), for the blind
    # stopping rules (bench.analysis.stopping)
    fit_stats_callback: Callable[[int, dict[str, float]], None] | None = None
    # the precision configuration the cell's key promises (bench.components.precision_probe), for methods that have one
    precision: str | None = None

    def __post_init__(self):
        if not isinstance(self.protocol, Protocol):
            self.protocol = Protocol(self.protocol)

    @property
    def trace_every(self) -> int:
        """0 (no trace) for a method that does not use the field."""
        return self.protocol["trace_every"] if "trace_every" in self.protocol else 0

    @property
    def trace_all_metrics(self) -> bool:
        return "trace_all_metrics" in self.protocol and self.protocol["trace_all_metrics"]

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def wants_trace(self, iteration: int) -> bool:
        k = self.trace_every
        return self.trace_callback is not None and k > 0 and iteration % k == 0

    def report(self, iteration: int, signal, loss: float | None = None, heldout_loss: float | None = None) -> None:
        """Hand the harness iterate ``iteration``; ``loss``, if given, is the fit's loss at that iterate, and
        ``heldout_loss`` the same loss over the observed samples the fit held out of it (self-validation)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise CellTimeout(f"cell passed its time limit at iteration {iteration}")
        stats = {name: float(value) for name, value in (("loss", loss), ("heldout_loss", heldout_loss))
                 if value is not None}
        if stats and self.fit_stats_callback is not None:
            self.fit_stats_callback(iteration, stats)
        if self.trace_callback is not None:
            self.trace_callback(iteration, np.asarray(signal, dtype=np.float32))


class Method:
    """Base class. Subclasses set ``tasks`` and implement ``restore``; parameters come from the suite.

    ``protocol_defaults`` declares the protocol fields the method uses (``bench.core.protocol.FIELDS``) with its
    own default for each: a suite's ``[protocol]`` sets only these, the cell key hashes only these, and
    ``context.protocol`` holds exactly these. A method that iterates declares at least ``iterations`` (and
    ``trace_every`` if it reports iterates); a classical method declares none.
    """

    tasks: tuple[str, ...] = ()
    protocol_defaults: dict[str, Any] = {}  # replace in a subclass, never update in place

    def __init__(self, **params):
        self.params = params

    def restore(self, observation: Observation, context: RunContext) -> Estimate | np.ndarray:
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """Facts for ``bench list methods --details`` (parameter counts, schedules, ...)."""
        return {}


def method(name: str, *, version: str = "1", description: str | None = None):
    """Decorator registering a Method subclass, which must list its ``tasks`` (``bench.core.registry``)."""
    return METHODS.register(name, version=version, description=description)


def build_method(name: str, params: dict | None = None) -> Method:
    return METHODS.get(name).obj(**(params or {}))
