"""Training examples as Venkataramani et al. (2019, Section 4.1) make them: random snippets of random
utterances, and two-speaker mixtures at 0 dB.

A mixture takes a random utterance of the female pool and one of the male pool (the pools are the
utterances of a set of speakers, e.g. TIMIT DR1's), a random snippet of each, and scales the male snippet to
the female snippet's energy (0 dB, as the ``mixture`` corruption does for the test pairs: the first source
keeps its level). A snippet longer than its utterance is the utterance zero-padded at the end. Snippets
that are silent are drawn again (a mixture at 0 dB needs both voices). Every draw uses the generator it is
given (the training epoch's ``context.rng``), so an epoch's examples depend on (seed, epoch) only.
"""
from __future__ import annotations

import numpy as np

MAX_DRAWS = 100  # silent snippets drawn again at most this often per example


def snippet(signal: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample excerpt of ``signal`` (zero-padded when the signal is shorter)."""
    if signal.size <= length:
        return np.pad(signal, (0, length - signal.size))
    start = int(rng.integers(0, signal.size - length + 1))
    return signal[start:start + length]


def voiced_snippet(pool: list[np.ndarray], length: int, rng: np.random.Generator) -> np.ndarray:
    """A random snippet of a random utterance of ``pool`` that is not silent."""
    for _ in range(MAX_DRAWS):
        out = snippet(pool[int(rng.integers(len(pool)))], length, rng)
        if np.any(out):
            return out
    raise ValueError(f"no non-silent {length}-sample snippet in {MAX_DRAWS} draws: are the training clips silent?")


def mixture_pairs(female: list[np.ndarray], male: list[np.ndarray], count: int, length: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` mixtures at 0 dB and the female snippet of each (paired): two (count, length) arrays."""
    mixtures, targets = [], []
    for _ in range(count):
        f, m = voiced_snippet(female, length, rng), voiced_snippet(male, length, rng)
        m = m * np.sqrt(np.sum(f.astype(np.float64) ** 2) / np.sum(m.astype(np.float64) ** 2))
        mixtures.append(f + m)
        targets.append(f)
    return np.stack(mixtures).astype(np.float32), np.stack(targets).astype(np.float32)


def clean_snippets(pool: list[np.ndarray], count: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random non-silent snippets of ``pool``: (count, length)."""
    return np.stack([voiced_snippet(pool, length, rng) for _ in range(count)]).astype(np.float32)


def mono_pool(source) -> list[np.ndarray]:
    """Every clip of a training source as a mono float32 array (each clip loaded once)."""
    out = []
    for clip in source.clips():
        samples = np.asarray(clip.samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"training source {source.name!r} gives {samples.shape} clips; single voices needed")
        out.append(samples)
    if not out:
        raise ValueError(f"training source {source.name!r} has no items")
    return out
