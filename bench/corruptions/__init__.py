"""Corruptions: seeded forward operators, one per task, that turn a clean Clip into an Observation."""
from __future__ import annotations

import numpy as np

from bench.core.audio import Clip, Observation
from bench.core.registry import CORRUPTIONS


class Corruption:
    """Base class. Subclasses set ``task`` and implement ``apply``; parameters come from the suite."""

    task: str = ""
    data_root = None  # set by the harness for corruptions that read a corpus (environmental noise)

    def __init__(self, **params):
        self.params = params

    @classmethod
    def resolve_params(cls, params: dict, *, synthetic: bool, data_root) -> dict:
        """The parameters a cell will actually use, decided when cells are expanded (so they are hashed).

        A corruption that reads a corpus overrides this to check the corpus and, under ``--synthetic``,
        switch to its synthetic stand-in, saying so in the returned parameters.
        """
        return params

    def apply(self, clip: Clip, rng: np.random.Generator) -> Observation:
        raise NotImplementedError


def corruption(name: str, *, version: str = "1", description: str | None = None):
    """Decorator registering a Corruption subclass, which must set its ``task`` (``bench.core.registry``)."""
    return CORRUPTIONS.register(name, version=version, description=description)


def build_corruption(name: str, params: dict | None = None, data_root=None) -> Corruption:
    instance = CORRUPTIONS.get(name).obj(**(params or {}))
    instance.data_root = data_root
    return instance
