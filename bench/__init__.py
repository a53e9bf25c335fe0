"""bench: a benchmark and evaluation harness for unsupervised audio restoration.

The names below are the plugin API: what a method, dataset, corruption or metric written outside this
package imports, as ``from bench import Method, method``. Everything else is the harness's own and may change.
They load on first use (PEP 562), so ``import bench`` imports no torch; ``FittedPrior`` and ``TrainedMethod``
do.
"""
from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

_EXPORTS = {
    # the audio a plugin receives and returns
    "Clip": "bench.core.audio", "Observation": "bench.core.audio", "Estimate": "bench.core.audio", "TASKS": "bench.core.audio",
    # methods
    "Method": "bench.components.method", "RunContext": "bench.components.method", "CellTimeout": "bench.components.method", "method": "bench.components.method",
    "Protocol": "bench.core.protocol",
    "FittedPrior": "bench.components.fitting", "Problems": "bench.components.fitting", "Schedule": "bench.components.fitting",
    "TrainedMethod": "bench.components.training", "TrainingContext": "bench.components.training", "TrainingData": "bench.components.training",
    # datasets
    "Dataset": "bench.components.dataset", "CorpusMissing": "bench.components.dataset", "dataset": "bench.components.dataset",
    "FileCorpus": "bench.components.corpus", "AudioRef": "bench.components.corpus", "Track": "bench.components.corpus",
    # corruptions
    "Corruption": "bench.corruptions", "corruption": "bench.corruptions",
    # metrics
    "Metric": "bench.metrics", "Output": "bench.metrics", "MetricUndefined": "bench.metrics",
    "metric": "bench.metrics", "improvement": "bench.metrics",
    # the registries
    "UnknownNameError": "bench.core.registry",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """``bench.method`` and ``bench.dataset`` name both a decorator of the API and, through the old flat import
    paths (``bench.deprecated_paths``), a module. Importing a module sets it as an attribute of its package; here
    it does not, so ``bench.method`` stays the decorator (the module is ``bench.components.method``)."""

    def __setattr__(self, name: str, value) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

from bench import deprecated_paths as _deprecated_paths  # noqa: E402 - the old flat module paths, for one release

_deprecated_paths.install()
