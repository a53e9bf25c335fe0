"""Cells: method x dataset x corruption x item x seed, each with a stable key.

The key is a hash of the cell's canonical configuration, which includes the registered versions of the
method, corruption and metrics, the dataset's revision, the clip preparation (rate, length, split) and the
protocol the method runs under (``bench.protocol``: only the fields it uses, after its defaults and the
profile's scaling). Expansion first checks every name and parameter of a table (``check_table``). Labels
used by a table are kept beside the configuration, outside the hash, so the same experiment in two suites
is computed once.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bench.corruptions import Corruption
from bench.dataset import CorpusMissing, Dataset, build_dataset
from bench.method import Method
from bench.parameters import check_parameters, did_you_mean
from bench.registry import CORRUPTIONS, DATASETS, METHODS, METRICS, UnknownNameError
from bench.seeds import corruption_seed, method_seed
from bench.rules import parse_rule
from bench.suite import Suite, selection_rules
from bench.training import is_trained

CELL_FORMAT = 1  # bump when the meaning of a record changes


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_jsonable)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} in a cell configuration")


def cell_key(config: dict) -> str:
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:32]


@dataclass
class Cell:
    config: dict  # canonical, hashed
    labels: dict = field(default_factory=dict)  # suite, method, dataset, corruption labels; not hashed
    key: str = ""
    training: Any = None  # a trained method's TrainingJob (its key is in config["training"])
    checkpoint: str | None = None  # where its trained weights are, set by the scheduler before dispatch
    synthetic: bool = False  # whether its clips are generated: decided at expansion, stamped on its record
    run_options: dict = field(default_factory=dict)  # how to run it, not hashed: {"timeout_s": seconds or None}

    def __post_init__(self):
        self.key = self.key or cell_key(self.config)

    @property
    def method(self) -> dict:
        return self.config["method"]

    @property
    def dataset(self) -> dict:
        return self.config["dataset"]

    @property
    def corruption(self) -> dict:
        return self.config["corruption"]

    @property
    def corruption_seed(self) -> int:
        c = self.config
        return corruption_seed(c["seed"], c["dataset"]["name"], c["item"], c["corruption"])

    @property
    def method_seed(self) -> int:
        c = self.config
        return method_seed(c["seed"], c["method"], c["dataset"]["name"], c["item"])

    def to_dict(self) -> dict:
        return {"key": self.key, "config": self.config, "labels": self.labels, "synthetic": self.synthetic,
                "run_options": self.run_options}

    @classmethod
    def from_dict(cls, data: dict) -> "Cell":
        return cls(data["config"], data.get("labels", {}), data["key"], synthetic=bool(data.get("synthetic")),
                   run_options=dict(data.get("run_options") or {}))


def expand(suite: Suite, profile: str = "paper", *, synthetic: bool = False, data_root=None) -> list[Cell]:
    """Every cell of a suite's tables (its own and its includes'), each key once."""
    cells: dict[str, Cell] = {}
    for table in suite.tables():
        for cell in _expand_table(table, profile, synthetic, data_root):
            cells.setdefault(cell.key, cell)
    return list(cells.values())


def check_table(suite: Suite) -> None:
    """Every name and parameter of a suite's own table, before any cell is made; errors name the file."""
    for kind, registry, base, components in (("methods", METHODS, Method, suite.methods),
                                             ("datasets", DATASETS, Dataset, suite.datasets),
                                             ("corruptions", CORRUPTIONS, Corruption, suite.corruptions)):
        for component in components:
            try:
                entry = registry.get(component.name)
            except UnknownNameError as exc:
                raise UnknownNameError(f"{suite.where}: [[{kind}]]: {exc}") from None
            if isinstance(entry.obj, type):
                check_parameters(entry.obj, base, component.params,
                                 f"{suite.where}: [[{kind}]] {component.title}: params")
    for name in suite.metrics:
        try:
            METRICS.get(name)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{suite.where}: metrics: {exc}") from None
    _check_training_keys(suite)
    outputs = [o for name in suite.metrics for o in METRICS.get(name).obj.output_names]
    for rule, where in selection_rules(suite):
        parse_rule(rule, where, outputs)


def _check_training_keys(suite: Suite) -> None:
    """A suite-wide or profile training key must be declared by at least one of the suite's trained methods
    (each method takes only its own keys: a key nobody declares is a typo)."""
    declared = {key for m in suite.methods if is_trained(METHODS.get(m.name).obj)
                for key in METHODS.get(m.name).obj.training_defaults}
    layers = [("[training]", suite.training)] + [(f"[profiles.{p}.training]", o.get("training", {}))
                                                  for p, o in suite.profiles.items()]
    for where, layer in layers:
        for key in layer:
            if key not in declared:
                known = ", ".join(sorted(declared)) or "none: the suite has no trained method"
                raise ValueError(f"{suite.where}: {where}: no trained method of the suite declares {key!r}."
                                 f"{did_you_mean(key, declared)} (their training keys: {known})")


def _expand_table(suite: Suite, profile: str, synthetic: bool, data_root) -> list[Cell]:
    check_table(suite)
    settings = suite.resolved(profile)
    protocols = {id(m): suite.protocol_for(m, getattr(METHODS.get(m.name).obj, "protocol_defaults", {}),
                                           profile).to_dict() for m in suite.methods}
    jobs = {id(m): {int(seed): _training_job(suite, m, settings, profile, int(seed), synthetic, data_root)
                    for seed in settings["seeds"]}
            for m in suite.methods if is_trained(METHODS.get(m.name).obj)}
    metrics = [{"name": m, "version": METRICS.get(m).version} for m in suite.metrics]
    cells = []
    for ds in suite.datasets:
        dataset_config, items, generated = _resolve_dataset(ds, settings, synthetic, data_root)
        for corruption in suite.corruptions:
            c_entry = CORRUPTIONS.get(corruption.name)
            c_params = c_entry.obj.resolve_params(corruption.params, synthetic=synthetic, data_root=data_root)
            c_config = {"name": corruption.name, "version": c_entry.version, "params": c_params}
            for m in suite.methods:
                m_entry = METHODS.get(m.name)
                if c_entry.meta["task"] not in m_entry.meta["tasks"] or not method_runs_on(m, ds, corruption):
                    continue
                m_config = {"name": m.name, "version": m_entry.version, "params": m.params}
                protocol = protocols[id(m)]
                for item in items:
                    for seed in settings["seeds"]:
                        config = {"format": CELL_FORMAT, "method": m_config, "dataset": dataset_config,
                                  "corruption": c_config, "item": item, "seed": int(seed),
                                  "metrics": metrics, "protocol": protocol}
                        labels = {"suite": suite.name, "method": m.label, "dataset": ds.label,
                                  "corruption": corruption.label, "profile": profile}
                        job = jobs.get(id(m), {}).get(int(seed))
                        if job is not None:
                            config["training"] = job.key
                        cells.append(Cell(config, labels, training=job, synthetic=generated,
                                          run_options={"timeout_s": settings.get("timeout_s")}))
    return cells


def method_runs_on(method, dataset, corruption) -> bool:
    only_datasets = method.extra.get("datasets")
    only_corruptions = method.extra.get("corruptions")
    return ((not only_datasets or dataset.label in only_datasets or dataset.name in only_datasets)
            and (not only_corruptions or corruption.label in only_corruptions
                 or corruption.name in only_corruptions))


def _dataset_or_standin(name: str, params: dict, synthetic: bool, data_root, standin_params=None):
    """(name, params, instance, standin_for): the corpus, or under ``synthetic`` its stand-in if it is missing."""
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


def _resolve_dataset(ds, settings: dict, synthetic: bool, data_root) -> tuple[dict, list[str], bool]:
    """The dataset part of the configuration, the chosen items and whether the clips are generated; a
    stand-in if asked and needed."""
    name, params, instance, standin_for = _dataset_or_standin(ds.name, ds.params, synthetic, data_root,
                                                              ds.extra.get("standin_params"))
    split = ds.extra.get("split", settings.get("split")) or instance.default_split
    if settings["items"] == "all":  # every item of the split, e.g. every kept segment of a corpus
        items = sorted(instance.item_ids(split))
    else:
        items = instance.select(int(settings["items"]), split=split, seed=int(settings["item_seed"]))
    config = {"name": name, "revision": instance.revision, "params": params, "split": split,
              "sample_rate": int(settings["sample_rate"]), "seconds": settings.get("seconds"),
              "standin_for": standin_for}
    return config, items, bool(instance.synthetic)


# -- training jobs of trained methods (bench.training) --------------------------------------------------
_SOURCE_KEYS = {"dataset", "params", "split", "items", "seconds", "sample_rate", "standin_params", "standin_items",
                "standin_seconds"}
STANDIN_ITEMS = 100  # training items of a synthetic stand-in when the source takes every item of its split
STANDIN_SECONDS = 20.0  # length of a stand-in's training item when the source takes whole recordings


def _training_job(suite: Suite, method, settings: dict, profile: str, seed: int, synthetic: bool, data_root):
    from bench.suite import PROFILES
    from bench.training import TRAINING_FORMAT, TrainingJob, versions

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
              "data": data, "training": suite.training_for(method, cls.training_defaults, profile),
              "seed": seed, "versions": versions()}
    return TrainingJob(config, {"suite": suite.name, "method": method.label, "profile": profile})


def _training_source(spec: dict, settings: dict, profile, synthetic: bool, data_root, where: str) -> dict:
    unknown = set(spec) - _SOURCE_KEYS
    if unknown or "dataset" not in spec:
        raise ValueError(f"{where}: a training source has keys {', '.join(sorted(_SOURCE_KEYS))} (dataset "
                         f"required); got {', '.join(sorted(spec))}")
    try:
        DATASETS.get(spec["dataset"])
    except UnknownNameError as exc:
        raise UnknownNameError(f"{where}: {exc}") from None
    name, params, instance, standin_for = _dataset_or_standin(spec["dataset"], spec.get("params", {}), synthetic,
                                                              data_root, spec.get("standin_params"))
    split = spec.get("split") or "train"
    every = sorted(instance.item_ids(split))
    wanted = spec.get("items")
    if wanted is None and standin_for is not None:  # a generated split is as large as one likes
        wanted = spec.get("standin_items", STANDIN_ITEMS)
    count = len(every) if wanted is None else int(wanted)
    if profile.train_items_max is not None:
        count = min(count, profile.train_items_max)
    items = every if count >= len(every) else instance.select(count, split=split, seed=int(settings["item_seed"]))
    seconds = spec.get("seconds")
    if seconds is None and standin_for is not None:  # a generated "whole recording" would be one clip's default
        seconds = float(spec.get("standin_seconds", STANDIN_SECONDS))
    if profile.train_seconds_max is not None:
        seconds = min(seconds or float("inf"), profile.train_seconds_max)
    return {"name": name, "revision": instance.revision, "params": params, "split": split, "items": items,
            "sample_rate": int(spec.get("sample_rate") or settings["sample_rate"]), "seconds": seconds,
            "standin_for": standin_for}
