"""The values that flow through a cell: a clean Clip, the Observation a method gets, the Estimate it returns.

Signals are float32 numpy arrays at one sample rate. A single-source signal has shape (T,); a set of
sources (the references of a separation task, or a separation method's estimates) has shape (S, T).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Clip:
    """Clean audio prepared by a dataset: mono float32 (T,), or (S, T) for a set of sources."""

    samples: np.ndarray
    sr: int
    dataset: str = ""
    item: str = ""
    offset: int = 0  # first sample of the excerpt in the source file, at the source's rate
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.samples = np.ascontiguousarray(self.samples, dtype=np.float32)
        if self.samples.ndim not in (1, 2):
            raise ValueError(f"a clip is (T,) or (S, T), got shape {self.samples.shape}")

    @property
    def num_samples(self) -> int:
        return self.samples.shape[-1]

    @property
    def seconds(self) -> float:
        return self.num_samples / self.sr


@dataclass
class Observation:
    """What a corruption produces.

    ``signal`` is the corrupted audio and ``known`` what a method may legitimately use (for example
    ``mask``: 1 where samples or STFT frames are observed, ``num_sources`` for separation). ``reference``
    is the clean target the metrics score against; ``info`` records what the corruption realised
    (measured SNR, RT60, mask positions). The harness hands a method a copy without ``reference``.
    """

    signal: np.ndarray
    sr: int
    task: str
    known: dict[str, Any] = field(default_factory=dict)
    reference: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.signal = np.ascontiguousarray(self.signal, dtype=np.float32)

    def for_method(self) -> "Observation":
        """The observation without the clean reference: all a method is allowed to see."""
        return Observation(self.signal.copy(), self.sr, self.task, dict(self.known), None, {})

    def baseline_estimate(self) -> np.ndarray:
        """The corrupted input read as an estimate (the "no restoration" row): one copy per source."""
        if self.reference is not None and self.reference.ndim == 2:
            return np.repeat(self.signal[None, :], self.reference.shape[0], axis=0)
        return self.signal


@dataclass
class Estimate:
    """A method's output: the restored signal ((T,), or (S, T) for separation) and anything it reports."""

    signal: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.signal = np.asarray(self.signal, dtype=np.float32)


TASKS = ("denoising", "inpainting", "dereverberation", "separation", "reconstruction")
