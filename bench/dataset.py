"""The Dataset interface: a corpus that lists items and prepares clean clips from them."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.audio import Clip
from bench.registry import DATASETS
from bench.seeds import derive_seed


class CorpusMissing(Exception):
    """A corpus is absent or malformed; the message says what was expected where and where to get it."""


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: ``--data``, else ``$BENCH_DATA``, else ``~/bench-data``."""
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("BENCH_DATA", "~/bench-data")).expanduser()


class Dataset:
    """Base class. ``folder`` is the corpus's sub-folder of the data root; synthetic corpora need none.

    ``standin`` names the synthetic corpus that replaces this one under ``--synthetic``; ``synthetic`` marks
    a generated corpus. ``revision`` is part of every cell key of the corpus.
    """

    kind: str = ""          # speech, digits, piano, drums, music-stems, noise, ...
    folder: str | None = None
    standin: str | None = None
    synthetic: bool = False
    url: str = ""
    layout: str = ""
    default_split: str = "test"

    def __init__(self, root: str | os.PathLike | None = None, **params):
        self.params = params
        self.root = data_root(root) / self.folder if self.folder else None

    @property
    def revision(self) -> str:
        return getattr(self, "version", "1")

    def item_ids(self, split: str | None = None) -> list[str]:
        raise NotImplementedError

    def select(self, n: int, *, split: str | None = None, seed: int = 0) -> list[str]:
        """``n`` items chosen deterministically from ``seed`` (the same for every method and repetition)."""
        ids = sorted(self.item_ids(split))
        if not ids:
            raise CorpusMissing(f"{self.registered_name}: no items found in split {split or self.default_split!r}")
        rng = np.random.default_rng(derive_seed("select", self.registered_name, split, seed))
        if n <= len(ids):
            return [ids[i] for i in sorted(rng.choice(len(ids), size=n, replace=False))]
        return [ids[i] for i in rng.choice(len(ids), size=n, replace=True)]

    def load(self, item: str, *, sr: int, seconds: float | None, rng: np.random.Generator) -> Clip:
        raise NotImplementedError

    def check(self) -> None:
        """Raise CorpusMissing with the expected layout when the corpus cannot be used."""
        self.item_ids(None)


def dataset(name: str, *, version: str = "1", description: str | None = None):
    def decorate(cls):
        DATASETS.add(name, cls, version=version, description=description, kind=cls.kind)
        return cls

    return decorate


def build_dataset(name: str, params: dict | None = None, root=None) -> Dataset:
    return DATASETS.get(name).obj(root=root, **(params or {}))
