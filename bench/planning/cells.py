"""Cells: method x dataset x corruption x item x seed, each with a stable key.

The key is a hash of the cell's canonical configuration, which includes the registered versions of the
method, corruption and metrics, the dataset's revision, the clip preparation (rate, length, split) and the
protocol the method runs under (``bench.core.protocol``: only the fields it uses, after its defaults and the
profile's scaling) and, for a fitted prior, the precision configuration that runs (``bench.components.precision_probe``:
chosen by a probe on the planning machine, re-checked by the worker), hashed by ``bench.core.keys.config_key`` as a
training job's is. A trained method's cells also hold the key of their training job (planned by
``bench.planning.training_jobs``). Expansion first checks every name and parameter of a table (``check_table``). Labels
used by a table are kept beside the configuration, outside the hash, so the same experiment in two suites is
computed once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.analysis.rules import parse_rule
from bench.components.dataset import Dataset, dataset_or_standin
from bench.components.method import Method
from bench.components.precision_probe import planned_precision
from bench.components.training import is_trained
from bench.core.keys import canonical_json, config_key  # noqa: F401 - canonical_json: the old import path
from bench.core.parameters import check_parameters
from bench.core.registry import CORRUPTIONS, DATASETS, METHODS, METRICS, UnknownNameError
from bench.core.seeds import corruption_seed, method_seed
from bench.corruptions import Corruption
from bench.planning.suite import Suite, selection_rules
from bench.planning.training_jobs import check_training_keys, plan_job

CELL_FORMAT = 1  # bump when the meaning of a record changes


cell_key = config_key  # the same stable hash as a training job's (``bench.core.keys``)


@dataclass
class Cell:
    config: dict  # canonical, hashed
    labels: dict = field(default_factory=dict)  # suite, method, dataset, corruption labels; not hashed
    key: str = ""
    training: Any = None  # a trained method's TrainingJob (its key is in config["training"])
    checkpoint: str | None = None  # where its trained weights are (bench.planning.training_jobs.attach_checkpoints)
    synthetic: bool = False  # whether its clips are generated: decided at expansion, stamped on its record
    run_options: dict = field(default_factory=dict)  # how to run it, not hashed: {"timeout_s": seconds or None}

    def __post_init__(self):
        self.key = self.key or config_key(self.config)

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
    check_training_keys(suite, [cls for cls in (METHODS.get(m.name).obj for m in suite.methods)
                                if is_trained(cls)])
    outputs = [o for name in suite.metrics for o in METRICS.get(name).obj.output_names]
    for rule, where in selection_rules(suite):
        parse_rule(rule, where, outputs)


def _expand_table(suite: Suite, profile: str, synthetic: bool, data_root) -> list[Cell]:
    check_table(suite)
    settings = suite.resolved(profile)
    protocols = {id(m): suite.protocol_for(m, getattr(METHODS.get(m.name).obj, "protocol_defaults", {}),
                                           profile).to_dict() for m in suite.methods}
    jobs = {id(m): {int(seed): plan_job(suite, m, settings, profile, int(seed), synthetic, data_root)
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
                precision = planned_precision(m.name, m.params, dataset_config)  # probed on this machine
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
                        if precision is not None:
                            config["precision"] = precision
                        cells.append(Cell(config, labels, training=job, synthetic=generated,
                                          run_options={"timeout_s": settings.get("timeout_s")}))
    return cells


def method_runs_on(method, dataset, corruption) -> bool:
    only_datasets = method.extra.get("datasets")
    only_corruptions = method.extra.get("corruptions")
    return ((not only_datasets or dataset.label in only_datasets or dataset.name in only_datasets)
            and (not only_corruptions or corruption.label in only_corruptions
                 or corruption.name in only_corruptions))


def _resolve_dataset(ds, settings: dict, synthetic: bool, data_root) -> tuple[dict, list[str], bool]:
    """The dataset part of the configuration, the chosen items and whether the clips are generated; a
    stand-in if asked and needed."""
    name, params, instance, standin_for = dataset_or_standin(ds.name, ds.params, synthetic, data_root,
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
