"""Informed separation by an oracle binary mask, shared by the sinusoidal DAE and the STFT baseline.

Mimilakis et al. (2020) measure how separable a representation is: the mask keeps the mixture's
coefficients where the vocal's representation exceeds half the accompaniment's, A_mix * (A_v / A_b > 0.5).
The oracle sources reach a method only through ``Observation.known["sources"]`` (the ``mixture``
corruption's ``oracle = true``): the suite decides when a method may see them.
"""
from __future__ import annotations

import numpy as np


def binary_mask(target, other):
    """1 where ``target / other > 0.5``, computed without a division: ``target > 0.5 * other``.

    Equal to the ratio rule wherever ``other > 0``; where ``other == 0`` it keeps any positive target
    (the ratio is +inf) and drops 0/0 (the public code's NaN compares false). Works on numpy arrays and
    torch tensors (magnitudes or non-negative codes)."""
    return target > 0.5 * other


def oracle_sources(observation, method: str) -> np.ndarray:
    """The (2, T) [target, other] sources a suite made known, or a one-line error saying how to."""
    sources = observation.known.get("sources")
    if sources is None:
        raise ValueError(f"{method}: separation by the oracle binary mask needs the sources in "
                         "observation.known['sources'] (the mixture corruption with oracle = true)")
    sources = np.asarray(sources, dtype=np.float32)
    if sources.ndim != 2 or sources.shape[0] != 2 or sources.shape[1] != observation.signal.shape[-1]:
        raise ValueError(f"{method}: known['sources'] has shape {sources.shape}; expected (2, "
                         f"{observation.signal.shape[-1]}) [vocals, accompaniment]")
    return sources
