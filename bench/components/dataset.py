"""The Dataset interface: a corpus that lists items and prepares clean clips from them.

Real corpora live under one data root (``--data DIR``, else ``$BENCH_DATA``, else ``~/bench-data``), one
sub-folder per corpus (``Dataset.folder``; ``bench data status`` lists them). File-based loaders build on
``bench.components.corpus.FileCorpus``; the synthetic corpora in ``datasets/synthetic*.py`` need no files.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.core.audio import Clip
from bench.core.registry import DATASETS
from bench.core.seeds import derive_seed

DEFAULT_DATA_ROOT = "~/bench-data"


class CorpusMissing(Exception):
    """A corpus is absent or malformed; the message says what was expected where and where to get it."""


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: ``--data``, else ``$BENCH_DATA``, else ``~/bench-data``."""
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("BENCH_DATA") or DEFAULT_DATA_ROOT).expanduser()


class Dataset:
    """Base class. ``folder`` is the corpus's sub-folder of the data root; synthetic corpora need none.

    ``folder_aliases`` are other names the folder is found under (the name a publisher's archive unpacks
    to). ``standin`` names the synthetic corpus that replaces this one under ``--synthetic`` and
    ``standin_params`` its parameters; ``synthetic`` marks a generated corpus. ``revision`` is part of
    every cell key of the corpus.
    """

    kind: str = ""          # speech, digits, piano, drums, music-stems, noise, ...
    folder: str | None = None
    folder_aliases: tuple[str, ...] = ()
    standin: str | None = None
    synthetic: bool = False
    url: str = ""
    layout: str = ""
    splits: tuple[str, ...] = ("test",)
    default_split: str = "test"

    def __init__(self, root: str | os.PathLike | None = None, **params):
        self.params = params
        self.data_dir = data_root(root)
        self.root = self._find_folder() if self.folder else None

    def _find_folder(self) -> Path:
        for name in (self.folder, *self.folder_aliases):
            if (self.data_dir / name).is_dir():
                return self.data_dir / name
        return self.data_dir / self.folder

    @property
    def name(self) -> str:
        return getattr(self, "registered_name", type(self).__name__)

    @property
    def revision(self) -> str:
        return getattr(self, "version", "1")

    @property
    def standin_params(self) -> dict:
        """Parameters of the stand-in that match this corpus's own (a voice for a gender, a noise scene)."""
        return {}

    def item_ids(self, split: str | None = None) -> list[str]:
        raise NotImplementedError

    def select(self, n: int, *, split: str | None = None, seed: int = 0) -> list[str]:
        """``n`` items chosen deterministically from ``seed`` (the same for every method and repetition)."""
        ids = sorted(self.item_ids(split))
        if not ids:
            raise CorpusMissing(f"{self.name}: no items found in split {split or self.default_split!r}")
        rng = np.random.default_rng(derive_seed("select", self.name, split, seed))
        if n <= len(ids):
            return [ids[i] for i in sorted(rng.choice(len(ids), size=n, replace=False))]
        return [ids[i] for i in rng.choice(len(ids), size=n, replace=True)]

    def load(self, item: str, *, sr: int, seconds: float | None, rng: np.random.Generator) -> Clip:
        raise NotImplementedError

    def check(self) -> None:
        """Raise CorpusMissing with the expected layout when the corpus cannot be used."""
        self.item_ids(None)

    def _check_split(self, split: str | None) -> str:
        """The split asked for (default: ``default_split``); ``all`` is every split of any corpus, and
        ``a+b`` the union of splits a and b (e.g. MUSDB18's train+valid: its 100 training tracks)."""
        split = split or self.default_split
        unknown = [part for part in split_parts(split) if part not in self.splits]
        if split != "all" and unknown:
            raise ValueError(f"{self.name} has no split {unknown[0]!r}; its splits are "
                             f"{', '.join(dict.fromkeys((*self.splits, 'all')))} (a+b: a union)")
        return split


def split_parts(split: str) -> tuple[str, ...]:
    """The splits a split name stands for: ``train+valid`` -> (train, valid)."""
    return tuple(split.split("+"))


def dataset(name: str, *, version: str = "1", description: str | None = None):
    """Decorator registering a Dataset subclass (``bench.core.registry``)."""
    return DATASETS.register(name, version=version, description=description)


def build_dataset(name: str, params: dict | None = None, root=None) -> Dataset:
    cls = DATASETS.get(name).obj
    try:
        return cls(root=root, **(params or {}))
    except TypeError as exc:  # an unknown or missing parameter: a suite error, not a crash
        raise ValueError(f"dataset {name!r}: bad parameters {params or {}}: {exc}") from None


def dataset_or_standin(name: str, params: dict, synthetic: bool, data_root, standin_params=None):
    """(name, params, instance, standin_for): the corpus, or under ``synthetic`` its stand-in if it is missing
    (``standin_params``: the stand-in's parameters, else the corpus's own choice)."""
    instance = build_dataset(name, params, data_root)
    if not instance.synthetic:
        try:
            instance.check()
        except CorpusMissing:
            if not synthetic or not instance.standin:
                raise
            standin_params = instance.standin_params if standin_params is None else standin_params
            return instance.standin, standin_params, build_dataset(instance.standin, standin_params, data_root), name
    return name, params, instance, None
