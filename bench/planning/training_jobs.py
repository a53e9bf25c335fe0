"""Training jobs: what a trained method trains (configuration, key) and where (its folder and files).

A training job is one method configuration x training data x training protocol x seed (``plan_job``). Its
key (``bench.core.keys.config_key``, the same hash as a cell's) covers the method's name, version and
parameters, the training sources (dataset, revision, parameters, split, the chosen items, rate, clip
length, the corpus a stand-in replaces), the resolved training protocol (``bench.core.protocol.resolve_training``:
epochs included, scaled by the profile once, here), the seed and the versions of what shapes the weights
(torch, numpy). Every cell trained by the job has the job's key in its own configuration.

Its folder ``<results>/training/<key>/`` (``JobFolder``) holds ``job.json`` (configuration and state),
``checkpoint.pt`` (model, optimiser and losses after the last finished epoch, written atomically),
``epoch.json`` (the epoch that checkpoint reached, readable without torch) and ``trained.pt`` (the final
weights). This module is the only one that knows these names: the trainer (``bench.components.training``), the
training stage, the scheduler, the reports and ``bench checkpoints`` ask it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from bench.components.dataset import dataset_or_standin
from bench.core.keys import config_key
from bench.core.protocol import TrainingProtocol
from bench.core.registry import DATASETS, METHODS, UnknownNameError
from bench.core.suggest import did_you_mean
from bench.planning.suite import PROFILES, Component, Profile, Suite

TRAINING_FORMAT = 1  # bump when the meaning of a training job changes
FOLDER = "training"  # under a results folder
JOB_FILE = "job.json"
CHECKPOINT_FILE = "checkpoint.pt"
EPOCH_FILE = "epoch.json"
TRAINED_FILE = "trained.pt"


# -- folder and files -----------------------------------------------------------------------------------
def jobs_root(results_root: str | os.PathLike) -> Path:
    """The folder of every training job of a results folder."""
    return Path(results_root) / FOLDER


@dataclass(frozen=True)
class JobFolder:
    """One training job's folder and the files in it."""

    path: Path

    @property
    def job(self) -> Path:
        return self.path / JOB_FILE

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def epoch(self) -> Path:
        return self.path / EPOCH_FILE

    @property
    def trained(self) -> Path:
        return self.path / TRAINED_FILE

    def state(self) -> dict:
        """What ``job.json`` says (state: pending, running, done, failed, interrupted), else pending."""
        try:
            return json.loads(self.job.read_text())
        except (OSError, ValueError):
            return {"state": "pending"}

    def last_epoch(self) -> int | None:
        """The last finished epoch saved in ``checkpoint.pt`` (from its companion ``epoch.json``), or None."""
        try:
            return int(self._progress()["last_epoch"])
        except (ValueError, KeyError, TypeError):
            return None

    def stopped_early(self) -> dict | None:
        """After which epoch (0-based ``epoch`` of ``epochs``) and why the training stopped early, or None:
        from ``job.json`` once the job has ended, else from ``epoch.json``."""
        for read in (self.state, self._progress):
            stopped = read().get("stopped_early")
            if stopped:
                return stopped
        return None

    def _progress(self) -> dict:
        """What ``epoch.json`` says, else {}."""
        try:
            progress = json.loads(self.epoch.read_text())
        except (OSError, ValueError):
            return {}
        return progress if isinstance(progress, dict) else {}

    def is_done(self) -> bool:
        return self.state().get("state") == "done" and self.trained.is_file()


def job_folder(results_root: str | os.PathLike, key: str) -> JobFolder:
    return JobFolder(jobs_root(results_root) / key)


def trained_path(results_root: str | os.PathLike, key: str) -> Path:
    """Where the final weights of training job ``key`` are under a results folder."""
    return job_folder(results_root, key).trained


def job_state(folder: str | os.PathLike) -> dict:
    return JobFolder(Path(folder)).state()


def checkpoint_epoch(folder: str | os.PathLike) -> int | None:
    return JobFolder(Path(folder)).last_epoch()


# -- the job --------------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    """Versions of what shapes trained weights besides the configuration."""
    import numpy
    import torch

    return {"torch": torch.__version__, "numpy": numpy.__version__}


@dataclass
class TrainingJob:
    """One training: a method configuration x training data x training protocol x seed."""

    config: dict  # canonical, hashed
    labels: dict = field(default_factory=dict)  # suite, method and profile labels, not hashed
    key: str = ""

    def __post_init__(self):
        self.key = self.key or config_key(self.config)

    @property
    def protocol(self) -> TrainingProtocol:
        """The resolved training protocol: what ``fit`` reads through ``context.protocol``."""
        return TrainingProtocol(self.config["training"])

    @property
    def epochs(self) -> int:
        return self.protocol["epochs"]

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def items(self) -> int:
        return sum(len(source["items"]) for source in self.config["data"].values())

    def settings(self) -> str:
        """The resolved training keys, ``key=value`` (what a dry run shows before anything trains)."""
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.config["training"].items())

    def estimated_cpu_seconds(self) -> float | None:
        """The method's own estimate of this training's CPU time (one thread), or None where it gives none."""
        from bench.components.method import build_method

        method = build_method(self.config["method"]["name"], self.config["method"]["params"])
        estimate = getattr(method, "training_cpu_seconds", None)
        return None if estimate is None else estimate(self.protocol, self.config["data"])

    def folder(self, results_root: str | os.PathLike) -> Path:
        return self.files(results_root).path

    def files(self, results_root: str | os.PathLike) -> JobFolder:
        return job_folder(results_root, self.key)

    def to_dict(self) -> dict:
        return {"key": self.key, "config": self.config, "labels": self.labels}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingJob":
        return cls(data["config"], data.get("labels", {}), data["key"])


def jobs_in(results_root: str | os.PathLike) -> Iterator[tuple[JobFolder, TrainingJob | None]]:
    """Each job folder of a results folder, in key order, with its job (None: ``job.json`` missing or
    unreadable)."""
    root = jobs_root(results_root)
    for path in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        folder = JobFolder(path)
        state = folder.state()
        yield folder, TrainingJob.from_dict(state) if "config" in state else None


def attach_checkpoints(cells: Iterable, results_root: str | os.PathLike) -> None:
    """Point each cell of a trained method that has no checkpoint yet at its job's trained weights."""
    for cell in cells:
        if cell.config.get("training") and not cell.checkpoint:
            cell.checkpoint = str(trained_path(results_root, cell.config["training"]))


# -- planning: a suite's trained method x seed -> its job ------------------------------------------------
_SOURCE_KEYS = {"dataset", "params", "split", "items", "seconds", "sample_rate", "standin_params", "standin_items",
                "standin_seconds"}
STANDIN_ITEMS = 100  # training items of a synthetic stand-in when the source takes every item of its split
STANDIN_SECONDS = 20.0  # length of a stand-in's training item when the source takes whole recordings


def check_training_keys(suite: Suite, trained: Iterable[type]) -> None:
    """A suite-wide or profile training key must be declared by at least one of the suite's ``trained``
    method classes (each method takes only its own keys: a key nobody declares is a typo)."""
    declared = {key for cls in trained for key in cls.training_defaults}
    layers = [("[training]", suite.training)] + [(f"[profiles.{p}.training]", o.get("training", {}))
                                                  for p, o in suite.profiles.items()]
    for where, layer in layers:
        for key in layer:
            if key not in declared:
                known = ", ".join(sorted(declared)) or "none: the suite has no trained method"
                raise ValueError(f"{suite.where}: {where}: no trained method of the suite declares {key!r}."
                                 f"{did_you_mean(key, declared)} (their training keys: {known})")


def plan_job(suite: Suite, method: Component, settings: dict, profile: str, seed: int, synthetic: bool,
             data_root) -> TrainingJob:
    """The training job of a suite's trained ``method`` for ``seed`` under ``profile`` (``settings``: the
    suite's settings resolved for that profile)."""
    entry = METHODS.get(method.name)
    cls = entry.obj
    where = f"{suite.where}: [[methods]] {method.title}: training_data"
    sources = {name: dict(spec) for name, spec in cls.training_data.items()}
    for name, spec in method.extra.get("training_data", {}).items():
        if name not in sources:
            raise ValueError(f"{where}: unknown training source {name!r}.{did_you_mean(name, sources)} (this "
                             f"method trains on: {', '.join(sources) or 'nothing declared'})")
        if spec.get("dataset", sources[name]["dataset"]) != sources[name]["dataset"]:
            sources[name] = dict(spec)  # another corpus: none of the declared one's parameters apply
        else:
            sources[name].update(spec)
    data = {name: _training_source(spec, settings, PROFILES[profile], synthetic, data_root, f"{where}: {name}")
            for name, spec in sources.items()}
    config = {"format": TRAINING_FORMAT,
              "method": {"name": method.name, "version": entry.version, "params": method.params},
              "data": data, "training": suite.training_for(method, cls.training_defaults, profile).to_dict(),
              "seed": seed, "versions": versions()}
    return TrainingJob(config, {"suite": suite.name, "method": method.label, "profile": profile})


def _training_source(spec: dict, settings: dict, profile: Profile, synthetic: bool, data_root, where: str) -> dict:
    unknown = set(spec) - _SOURCE_KEYS
    if unknown or "dataset" not in spec:
        raise ValueError(f"{where}: a training source has keys {', '.join(sorted(_SOURCE_KEYS))} (dataset "
                         f"required); got {', '.join(sorted(spec))}")
    try:
        DATASETS.get(spec["dataset"])
    except UnknownNameError as exc:
        raise UnknownNameError(f"{where}: {exc}") from None
    name, params, instance, standin_for = dataset_or_standin(spec["dataset"], spec.get("params", {}), synthetic,
                                                             data_root, spec.get("standin_params"))
    split = spec.get("split") or "train"
    every = sorted(instance.item_ids(split))
    wanted = spec.get("items")
    if wanted is None and standin_for is not None:  # a generated split is as large as one likes
        wanted = spec.get("standin_items", STANDIN_ITEMS)
    count = len(every) if wanted is None else int(wanted)
    for cap in (profile.train_items_max, settings.get("train_items")):  # the profile's, the suite's own
        count = count if cap is None else min(count, int(cap))
    items = every if count >= len(every) else instance.select(count, split=split, seed=int(settings["item_seed"]))
    seconds = spec.get("seconds")
    if seconds is None and standin_for is not None:  # a generated "whole recording" would be one clip's default
        seconds = float(spec.get("standin_seconds", STANDIN_SECONDS))
    if profile.train_seconds_max is not None:
        seconds = min(seconds or float("inf"), profile.train_seconds_max)
    return {"name": name, "revision": instance.revision, "params": params, "split": split, "items": items,
            "sample_rate": int(spec.get("sample_rate") or settings["sample_rate"]), "seconds": seconds,
            "standin_for": standin_for}
