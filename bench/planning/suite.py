"""Suites: one TOML file declares one table; a suite may include other suites; profiles scale it.

A suite file (see ``bench/suites/smoke.toml``) has a name, a title, ``methods``, ``datasets`` and
``corruptions`` (each a list of tables with ``name``, optional ``params`` and ``label``), ``metrics``,
``items``, ``seeds``, ``seconds`` and ``sample_rate`` of the clips, a ``[protocol]`` (iterations, learning
rate, trace interval...: ``bench.core.protocol`` resolves it per method), ``aggregate`` (mean or median),
``layout`` and the paper's published numbers as ``[[references]]``. ``include = [...]`` pulls in other
suites ("*" means every suite).
Suites are found in the package (``bench/suites``), in the folders of ``$BENCH_SUITE_PATH``, from entry
points in the group ``bench.suites``, or given as a path to a ``.toml`` file.
"""
from __future__ import annotations

import copy
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.protocol import Protocol, TrainingProtocol, check_values, resolve, resolve_training
from bench.core.registry import SUITES, UnknownNameError
from bench.core.suggest import reject_unknown

BUILTIN_DIR = Path(__file__).parent.parent / "suites"


# -- profiles -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """How a profile scales a suite: caps on items, seeds and clip length, a factor and cap on iterations."""

    name: str
    items_max: int | None = None
    seeds_max: int | None = None
    seconds_max: float | None = None
    iterations_factor: float = 1.0
    iterations_max: int | None = None
    epochs_factor: float = 1.0  # a trained method's epochs (bench.components.training)
    epochs_max: int | None = None
    train_items_max: int | None = None  # items per training source
    train_seconds_max: float | None = None  # length of a training item
    description: str = ""

    def scale(self, settings: dict) -> dict:
        """Items, seeds and clip length scaled; the protocol is scaled per method (``bench.core.protocol``)."""
        out = copy.deepcopy(settings)
        if self.items_max is not None:
            out["items"] = self.items_max if out["items"] == "all" else min(out["items"], self.items_max)
        if self.seeds_max is not None:
            out["seeds"] = out["seeds"][: self.seeds_max]
        if self.seconds_max is not None and out.get("seconds"):
            out["seconds"] = min(out["seconds"], self.seconds_max)
        return out

    def scale_iterations(self, full: int) -> int:
        scaled = max(1, math.ceil(full * self.iterations_factor))
        return min(scaled, self.iterations_max) if self.iterations_max is not None else scaled

    def scale_epochs(self, full: int) -> int:
        scaled = max(1, math.ceil(full * self.epochs_factor))
        return min(scaled, self.epochs_max) if self.epochs_max is not None else scaled


PROFILES = {
    "paper": Profile("paper", description="the suite exactly as declared (the paper's protocol)"),
    "quick": Profile("quick", items_max=10, seeds_max=1, iterations_factor=0.25, epochs_factor=0.25,
                     train_items_max=10,
                     description="at most 10 items, one seed, a quarter of the iterations; trained methods: a "
                                 "quarter of the epochs, at most 10 items per training source"),
    "cpu": Profile("cpu", items_max=30, seeds_max=1, iterations_factor=0.25, epochs_factor=0.25,
                   description="about an hour on two CPU cores: a suite sets its own scale under [profiles.cpu] "
                               "(measured, see its comment; train_items caps each training source); where it "
                               "sets none, at most 30 items, one seed, a quarter of the iterations and epochs"),
    "smoke": Profile("smoke", items_max=2, seeds_max=1, seconds_max=1.0, iterations_factor=0.01,
                     iterations_max=20, epochs_max=1, train_items_max=2, train_seconds_max=4.0,
                     description="2 items, one seed, clips of at most 1 s, at most 20 iterations; trained "
                                 "methods: one epoch on at most 2 items of at most 4 s per training source"),
}


# -- suites ---------------------------------------------------------------------------------------------
@dataclass
class Component:
    """A method, dataset or corruption as a suite names it."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a method's protocol overrides

    def __post_init__(self):
        self.label = self.label or self.name

    @property
    def title(self) -> str:
        """How errors name it: its name, and its label where that differs."""
        return repr(self.name) + (f" ({self.label})" if self.label != self.name else "")


@dataclass
class Suite:
    name: str
    title: str = ""
    description: str = ""
    paper: str = ""
    includes: list[str] = field(default_factory=list)
    methods: list[Component] = field(default_factory=list)
    datasets: list[Component] = field(default_factory=list)
    corruptions: list[Component] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # items, seeds, seconds, sample_rate, ...
    protocol: dict[str, Any] = field(default_factory=dict)  # [protocol] as written (typed)
    training: dict[str, Any] = field(default_factory=dict)  # [training]: trained methods' protocol overrides
    profiles: dict[str, dict] = field(default_factory=dict)  # per-profile overrides of settings
    layout: dict[str, Any] = field(default_factory=dict)
    references: list[dict] = field(default_factory=list)
    path: Path | None = None
    claims: list = field(default_factory=list)  # the paper's claims as checks (bench.analysis.paper_claims.Claim)

    @property
    def where(self) -> str:
        """How errors name this suite: its file, else its name."""
        return str(self.path) if self.path else f"suite {self.name}"

    @property
    def has_table(self) -> bool:
        return bool(self.methods)

    def tables(self, _seen: set | None = None, _path: tuple[str, ...] = ()) -> list["Suite"]:
        """This suite's own table (if any) followed by those of its includes, each once; a suite that
        includes itself, directly or not, is a ValueError naming the circle."""
        if self.name in _path:
            circle = " -> ".join([*_path[_path.index(self.name):], self.name])
            raise ValueError(f"{self.where}: suites include each other in a circle: {circle}")
        seen = _seen if _seen is not None else set()
        if self.name in seen:
            return []
        seen.add(self.name)
        out = [self] if self.has_table else []
        for name in self.expanded_includes():
            out.extend(load_suite(name).tables(seen, (*_path, self.name)))
        return out

    def expanded_includes(self) -> list[str]:
        names: list[str] = []
        for name in self.includes:
            if name == "*":
                names.extend(n for n in SUITES.names() if n != self.name and not _is_star_suite(n))
            else:
                names.append(name)
        return names

    def resolved(self, profile: str) -> dict:
        """Settings after the profile's scaling and the suite's own overrides for that profile."""
        if profile not in PROFILES:
            raise UnknownNameError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        settings = PROFILES[profile].scale(self.settings)
        override = copy.deepcopy(self.profiles.get(profile, {}))
        override.pop("protocol", None)
        override.pop("training", None)
        settings.update(override)
        settings["profile"] = profile
        return settings

    def protocol_for(self, method: Component, defaults: dict[str, Any], profile: str) -> Protocol:
        """What ``method`` (whose class declares ``defaults``) runs under in this suite and profile."""
        self.resolved(profile)  # checks the profile's name
        return resolve(defaults, self.protocol, own=method.extra.get("protocol", {}),
                       scale_iterations=PROFILES[profile].scale_iterations,
                       overrides=self.profiles.get(profile, {}).get("protocol", {}),
                       where=f"{self.where}: [[methods]] {method.title}: protocol")

    def training_for(self, method: Component, defaults: dict[str, Any], profile: str) -> TrainingProtocol:
        """What a trained ``method`` (whose class declares ``defaults``) trains under in this suite and profile."""
        self.resolved(profile)
        return resolve_training(defaults, suite_wide=self.training, own=method.extra.get("training", {}),
                                where=f"{self.where}: [[methods]] {method.title}: training",
                                epochs_scale=PROFILES[profile].scale_epochs,
                                overrides=self.profiles.get(profile, {}).get("training", {}))


_DEFAULT_SETTINGS = {"items": 10, "seeds": [0], "seconds": 1.0, "sample_rate": 16000, "split": None,
                     "item_seed": 0, "aggregate": "mean", "select": "final", "timeout_s": None,
                     "train_items": None}  # at most this many items per training source (a profile's own scale)


_TOP_KEYS = {"name", "title", "description", "paper", "include", "methods", "datasets", "corruptions",
             "metrics", "profiles", "layout", "references", "protocol", "training", "claims", *_DEFAULT_SETTINGS}
# What a [[methods]], [[datasets]] or [[corruptions]] entry may say besides its name, params and label.
_ENTRY_KEYS = {"methods": {"protocol", "datasets", "corruptions", "training", "training_data"},
               "datasets": {"split", "standin_params"},
               "corruptions": set()}


def parse_suite(data: dict, path: Path | None = None) -> Suite:
    data = copy.deepcopy(data)
    if "name" not in data:
        raise ValueError(f"suite {path or ''} has no name")
    where = str(path) if path else f"suite {data['name']}"
    reject_unknown(data, _TOP_KEYS, where)
    includes = data.pop("include", [])
    claims = data.pop("claims", [])
    suite = Suite(
        name=data.pop("name"), title=data.pop("title", ""), description=data.pop("description", ""),
        paper=data.pop("paper", ""), includes=[includes] if isinstance(includes, str) else list(includes),
        methods=[_component(c, "methods", i, where) for i, c in enumerate(data.pop("methods", []))],
        datasets=[_component(c, "datasets", i, where) for i, c in enumerate(data.pop("datasets", []))],
        corruptions=[_component(c, "corruptions", i, where) for i, c in enumerate(data.pop("corruptions", []))],
        metrics=list(data.pop("metrics", [])), profiles=data.pop("profiles", {}),
        protocol=check_values(data.pop("protocol", {}), f"{where}: [protocol]"),
        training=_table(data.pop("training", {}), f"{where}: [training]"),
        layout=_layout(data.pop("layout", {}), f"{where}: layout"), references=data.pop("references", []),
        path=path)
    settings = dict(_DEFAULT_SETTINGS)
    settings.update(data)
    _check_settings(settings, where)
    suite.settings = settings
    suite.claims = _claims(claims, where, [m.label for m in suite.methods])
    _check_select(settings["select"], f"{where}: select", suite.metrics)
    if suite.has_table and not (suite.datasets and suite.corruptions and suite.metrics):
        raise ValueError(f"{where}: the suite declares methods but no datasets, corruptions or metrics")
    for profile, override in suite.profiles.items():
        if profile not in PROFILES:
            raise ValueError(f"{where}: unknown profile {profile!r} in [profiles]; the profiles are "
                             f"{', '.join(PROFILES)}")
        reject_unknown(override, [*_DEFAULT_SETTINGS, "protocol", "training"], f"{where}: [profiles.{profile}]")
        _check_settings(override, f"{where}: [profiles.{profile}]")
        _table(override.get("training", {}), f"{where}: [profiles.{profile}.training]")
        check_values(override.get("protocol", {}), f"{where}: [profiles.{profile}.protocol]")
        if "select" in override:
            _check_select(override["select"], f"{where}: [profiles.{profile}] select", suite.metrics)
    return suite


MAX_ITEMS = 1_000_000  # per dataset of a table; "all" takes a split whatever its size
MAX_SEEDS = 10_000
MAX_SECONDS = 3600.0  # one clip
SAMPLE_RATES = (1000, 384_000)


def _check_settings(values: dict, where: str) -> None:
    """Range-check the run settings ``values`` holds, before anything is allocated or run; ``seeds = N``
    becomes ``[0, ..., N-1]`` in place."""
    def whole(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    items = values.get("items", "all")
    if not (items == "all" or whole(items) and 1 <= items <= MAX_ITEMS):
        raise ValueError(f"{where}: items must be a whole number from 1 to {MAX_ITEMS:,}, or \"all\" (every item of "
                         f"the split), not {items!r}")
    if whole(values.get("seeds")):
        if not 1 <= values["seeds"] <= MAX_SEEDS:
            raise ValueError(f"{where}: seeds = N must be from 1 to {MAX_SEEDS:,}, not {values['seeds']!r}")
        values["seeds"] = list(range(values["seeds"]))
    seeds = values.get("seeds", [0])
    if not (isinstance(seeds, list) and seeds and all(whole(s) and s >= 0 for s in seeds)
            and len(set(seeds)) == len(seeds)):
        raise ValueError(f"{where}: seeds must be a count or a list of distinct whole numbers >= 0, not {seeds!r}")
    if "seconds" in values and not (number(values["seconds"]) and 0 < values["seconds"] <= MAX_SECONDS):
        raise ValueError(f"{where}: seconds (the clip length) must be a number above 0 and at most {MAX_SECONDS:g}, "
                         f"not {values['seconds']!r}")
    low, high = SAMPLE_RATES
    if "sample_rate" in values and not (whole(values["sample_rate"]) and low <= values["sample_rate"] <= high):
        raise ValueError(f"{where}: sample_rate must be a whole number of Hz from {low} to {high}, "
                         f"not {values['sample_rate']!r}")
    if values.get("timeout_s") is not None and not (number(values["timeout_s"]) and values["timeout_s"] > 0):
        raise ValueError(f"{where}: timeout_s must be a number of seconds above 0, not {values['timeout_s']!r}")


def _claims(entries, where: str, methods: list[str]) -> list:
    from bench.planning.claim_spec import parse_claim

    if not isinstance(entries, list):
        raise ValueError(f"{where}: claims must be an array of tables ([[claims]])")
    return [parse_claim(entry, f"{where}: [[claims]] #{i + 1}", methods) for i, entry in enumerate(entries)]


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be a table of key = value, not {value!r}")
    return value


def _layout(layout, where: str) -> dict:
    """The layout as written, its ``details`` checked: header -> the name of a fact of the method's
    ``details()`` (e.g. ``N_P = "parameters"``), shown per method row, so the rows must be the methods'."""
    details = _table(layout, where).get("details", {})
    if not isinstance(details, dict) or not all(isinstance(v, str) for v in details.values()):
        raise ValueError(f"{where}: details must be a table of column header = the name of a fact of the "
                         f"method's details(), e.g. details = {{ N_P = \"parameters\" }}; got {details!r}")
    if details and "method" not in layout.get("rows", ["method"]):
        raise ValueError(f"{where}: details are facts of each method row: the rows must include \"method\"")
    return layout


def _check_select(rule, where: str, metrics: list[str]) -> None:
    """The rule's form, at load; whether an ``oracle:<output>`` is one of the metrics' outputs is checked
    where the cells are expanded (``bench.planning.cells.check_table``), so reading a suite imports no metric."""
    from bench.analysis.rules import check_form

    check_form(rule, where)  # ValueError naming the file and the closest rules


def selection_rules(suite: "Suite") -> list[tuple[str, str]]:
    """(rule, where it is declared) of the suite's ``select`` and of its profiles' overrides."""
    where = suite.where
    rules = [(suite.settings["select"], f"{where}: select")]
    rules += [(override["select"], f"{where}: [profiles.{profile}] select")
              for profile, override in suite.profiles.items() if "select" in override]
    return rules


def _component(entry, kind: str, index: int, where: str) -> Component:
    if isinstance(entry, str):
        return Component(entry)
    entry = dict(entry)
    table = f"{where}: [[{kind}]] #{index + 1}"
    if "name" not in entry:
        raise ValueError(f"{table} has no name")
    allowed = {"name", "params", "label", *_ENTRY_KEYS[kind]}
    reject_unknown(entry, allowed, f"{table} {entry['name']!r}", then="(a parameter goes in params = { ... })")
    if "protocol" in entry:
        entry["protocol"] = check_values(entry["protocol"], f"{table} {entry['name']!r}: protocol")
    for key in ("training", "training_data"):
        if key in entry:
            _table(entry[key], f"{table} {entry['name']!r}: {key}")
    return Component(entry.pop("name"), entry.pop("params", {}), entry.pop("label", ""), entry)


def read_suite_file(path: str | os.PathLike) -> Suite:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: suite file not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder, not a suite file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid TOML file: {exc}") from None
    return parse_suite(data, path)


def load_suite(name_or_path: str) -> Suite:
    """A registered suite by name, or a suite file by path (anything ending in .toml or with a slash)."""
    if name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path:
        return read_suite_file(name_or_path)
    entry = SUITES.get(name_or_path)
    if isinstance(entry.obj, UnreadableSuite):
        raise ValueError(entry.obj.error)
    return entry.obj() if callable(entry.obj) and not isinstance(entry.obj, Suite) else entry.obj


def _is_star_suite(name: str) -> bool:
    return "*" in load_suite(name).includes


class UnreadableSuite(Suite):
    """Registered in place of a suite file that cannot be read (registered under its file's stem) or of a
    name two files declare: only a command that loads it fails, with ``error``; the others work."""

    def __init__(self, error: str):
        super().__init__(name="")
        self.error = error


_SUITE_FILES: dict[str, Path] = {}  # name -> the file that declared it, for the suites of folders


def register_suite_dir(directory: Path) -> None:
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            suite = read_suite_file(path)
        except ValueError as exc:
            name, suite = path.stem, UnreadableSuite(str(exc))
        else:
            name = suite.name
        if name in _SUITE_FILES:
            suite = UnreadableSuite(f"suite {name!r} is declared twice, in {_SUITE_FILES[name]} and {path}: "
                                    "rename one")
        _SUITE_FILES[name] = path
        description = suite.error if isinstance(suite, UnreadableSuite) else suite.title or suite.description
        SUITES.add(name, suite, version="1", description=description, replace=True)


register_suite_dir(BUILTIN_DIR)
for _extra in filter(None, os.environ.get("BENCH_SUITE_PATH", "").split(os.pathsep)):
    register_suite_dir(Path(_extra))
