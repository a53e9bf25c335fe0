"""Named, versioned registries of methods, datasets, corruptions, metrics and suites.

Built-in implementations register themselves with a decorator when their module is imported; the
registry imports the built-in modules (every module of ``methods/``, ``datasets/``, ``bench/metrics`` and
``bench/corruptions``, so a new file dropped in is found) and the modules named in ``$BENCH_PLUGINS`` the
first time it is asked anything. Third-party packages register
through entry points in the groups ``bench.methods``, ``bench.datasets``, ``bench.corruptions``,
``bench.metrics`` and ``bench.suites``: an entry point's name is the registered name and its object is
loaded only when that name is asked for (or when everything is listed).
"""
from __future__ import annotations

import os
import importlib
import pkgutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterator

from bench.parameters import did_you_mean


class UnknownNameError(KeyError):
    """Raised for a name no registry entry has; the message lists the close matches."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want a readable sentence
        return str(self.args[0])


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    description: str
    obj: Any
    meta: dict = field(default_factory=dict)


class Registry:
    """A name -> Entry mapping for one kind of component."""

    def __init__(self, kind: str, builtin_packages: tuple[str, ...] = ()):
        self.kind = kind
        self.group = f"bench.{kind}"
        self._builtin_packages = builtin_packages
        self._entries: dict[str, Entry] = {}
        self._builtins_loaded = False
        self._entry_points: dict[str, Any] | None = None

    # -- registration -------------------------------------------------------------------------------
    def register(self, name: str, *, version: str = "1", description: str | None = None, **meta) -> Callable:
        """Decorator: ``@METHODS.register("identity", version="1")`` above a class or function."""

        def decorate(obj):
            self.add(name, obj, version=version, description=description, **meta)
            return obj

        return decorate

    def add(self, name: str, obj: Any, *, version: str = "1", description: str | None = None,
            replace: bool = False, **meta) -> Entry:
        """Register ``obj`` as ``name``; another object of that name is an error unless ``replace``."""
        if description is None:
            description = _first_line(getattr(obj, "__doc__", None))
        existing = self._entries.get(name)
        clash = existing is not None and existing.obj is not obj and _qualname(existing.obj) != _qualname(obj)
        if clash and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered by {_qualname(existing.obj)}")
        entry = Entry(name, str(version), description, obj, dict(meta))
        self._entries[name] = entry
        for attribute, value in (("registered_name", name), ("version", str(version))):
            if isinstance(obj, type) or callable(obj):
                try:
                    setattr(obj, attribute, value)
                except (AttributeError, TypeError):
                    pass
        return entry

    # -- lookup -------------------------------------------------------------------------------------
    def get(self, name: str) -> Entry:
        self._load_builtins()
        if name in self._entries:
            return self._entries[name]
        plugins = self._plugin_entry_points()
        if name in plugins:
            self._load_plugin(name, plugins[name])
            if name in self._entries:
                return self._entries[name]
        known = sorted(set(self._entries) | set(plugins))
        raise UnknownNameError(f"unknown {self.kind[:-1] if self.kind.endswith('s') else self.kind} "
                               f"{name!r}.{did_you_mean(name, known)} (`bench list {self.kind}` shows them all)")

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except UnknownNameError:
            return False
        return True

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def entries(self) -> list[Entry]:
        """Every entry, loading all plugins."""
        self._load_builtins()
        for name, ep in self._plugin_entry_points().items():
            if name not in self._entries:
                self._load_plugin(name, ep)
        return sorted(self._entries.values(), key=lambda e: e.name)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    # -- loading ------------------------------------------------------------------------------------
    def _load_builtins(self) -> None:
        if self._builtins_loaded:
            return
        self._builtins_loaded = True
        for package_name in self._builtin_packages:
            import_all_modules(package_name)
        import_plugin_modules()

    def _plugin_entry_points(self) -> dict[str, Any]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def _load_plugin(self, name: str, ep) -> None:
        obj = ep.load()
        if name not in self._entries:
            # The plugin's object may have registered itself on import; otherwise register it here, with
            # what the decorators would have recorded (a method's tasks, a corruption's task, a corpus's kind).
            meta = {k: getattr(obj, k) for k in ("tasks", "task", "kind") if hasattr(obj, k)}
            if "tasks" in meta:
                meta["tasks"] = tuple(meta["tasks"])
            self.add(name, obj, version=getattr(obj, "version", "1"), **meta)


def import_plugin_modules() -> None:
    """Import the modules named in ``$BENCH_PLUGINS`` (comma-separated), so that their decorators register
    methods, datasets, corruptions or metrics without packaging them. Worker processes inherit the variable."""
    for module_name in filter(None, (m.strip() for m in os.environ.get("BENCH_PLUGINS", "").split(","))):
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
                raise  # the plugin exists; something it imports does not
            raise ValueError(f"$BENCH_PLUGINS names {module_name!r}: no such module ({exc})") from None


def import_all_modules(package_name: str) -> None:
    """Import a package and every module in it (so their decorators run)."""
    package = importlib.import_module(package_name)
    if not hasattr(package, "__path__"):
        return  # a plain module: importing it was enough
    for info in pkgutil.iter_modules(package.__path__, prefix=package_name + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(info.name)


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


METHODS = Registry("methods", ("bench.methods",))
DATASETS = Registry("datasets", ("bench.datasets",))
CORRUPTIONS = Registry("corruptions", ("bench.corruptions",))
METRICS = Registry("metrics", ("bench.metrics",))
SUITES = Registry("suites", ("bench.suite",))

REGISTRIES = {r.kind: r for r in (METHODS, DATASETS, CORRUPTIONS, METRICS, SUITES)}
