"""Named, versioned registries of methods, datasets, corruptions, metrics and suites.

Implementations register themselves when their module is imported, through one mechanism
(``Registry.add``, behind the decorators ``method``, ``dataset``, ``corruption`` and ``metric``), which
checks that a method is a ``Method``, a dataset a ``Dataset`` and so on. The built-in packages
(``methods/``, ``datasets/``, ``bench/metrics``, ``bench/corruptions``) are not imported to learn what they
hold: their registrations are read from the source (``declarations``) as lazy ``module:Class`` entries with
the name, version and description the decorator will register, and a module is imported when one of its
names is asked for. So ``bench list`` imports no implementation (and no torch), and a file dropped into one
of these folders is found. The modules named in ``$BENCH_PLUGINS`` are imported the first time a registry
is asked anything. Third-party packages register through entry points in the groups ``bench.methods``,
``bench.datasets``, ``bench.corruptions``, ``bench.metrics`` and ``bench.suites``: an entry point's name is
the registered name and its object is loaded only when that name is asked for (or when everything is listed).
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import pkgutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterator

from bench.core.suggest import did_you_mean


class RegistrationError(TypeError):
    """A registration that cannot stand: an object of the wrong type, or one that lacks what its kind needs."""


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


@dataclass(frozen=True)
class Declaration:
    """A registration read from a module's source without running it; ``target`` is ``module:Name``."""

    name: str
    version: str
    description: str
    target: str

    @property
    def module(self) -> str:
        return self.target.split(":", 1)[0]


class Registry:
    """A name -> Entry mapping for one kind of component.

    ``packages``: the built-in packages whose modules register here; ``registers_with``: the names of the
    decorators (or plain calls) that register here, which ``declarations`` looks for in their source.
    ``base`` (``module:Class``): what every registered object must be (a subclass of it, or an instance);
    ``meta``: class attributes recorded with each entry, of which ``required`` must be set.
    """

    def __init__(self, kind: str, packages: tuple[str, ...] = (), *, registers_with: tuple[str, ...] = (),
                 base: str | None = None, meta: tuple[str, ...] = (), required: tuple[str, ...] = ()):
        self.kind = kind
        self.singular = kind[:-1] if kind.endswith("s") else kind
        self.group = f"bench.{kind}"
        self.packages = packages
        self.registers_with = registers_with
        self.base = base
        self.meta_attributes = meta
        self.required = required
        self._entries: dict[str, Entry] = {}
        self._declared: dict[str, Declaration] | None = None
        self._entry_points: dict[str, Any] | None = None

    # -- registration -------------------------------------------------------------------------------
    def register(self, name: str, *, version: str = "1", description: str | None = None, **meta) -> Callable:
        """Decorator: ``@METHODS.register("identity", version="1")`` above a class (``bench.components.method``)."""

        def decorate(obj):
            self.add(name, obj, version=version, description=description, **meta)
            return obj

        return decorate

    def add(self, name: str, obj: Any, *, version: str = "1", description: str | None = None,
            replace: bool = False, **meta) -> Entry:
        """Register ``obj`` as ``name``; another object of that name is an error unless ``replace``."""
        self._check(name, obj)
        if description is None:
            description = _first_line(getattr(obj, "__doc__", None))
        existing = self._entries.get(name)
        clash = existing is not None and existing.obj is not obj and _qualname(existing.obj) != _qualname(obj)
        if clash and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered by {_qualname(existing.obj)}")
        for attribute in self.meta_attributes:
            if attribute not in meta and hasattr(obj, attribute):
                value = getattr(obj, attribute)
                meta[attribute] = tuple(value) if isinstance(value, (list, tuple)) else value
        missing = [attribute for attribute in self.required if not meta.get(attribute)]
        if missing:
            raise RegistrationError(f"{self.singular} {name!r}: {_qualname(obj)} must set {', '.join(missing)}")
        entry = Entry(name, str(version), description, obj, dict(meta))
        self._entries[name] = entry
        for attribute, value in (("registered_name", name), ("version", str(version))):
            if isinstance(obj, type) or callable(obj):
                try:
                    setattr(obj, attribute, value)
                except (AttributeError, TypeError):
                    pass
        return entry

    def _check(self, name: str, obj: Any) -> None:
        if self.base is None:
            return
        module, _, base_name = self.base.partition(":")
        base = getattr(importlib.import_module(module), base_name)
        if isinstance(obj, type) and issubclass(obj, base) or not isinstance(obj, type) and isinstance(obj, base):
            return
        import bench

        where = f"bench.{base_name}" if base_name in bench.__all__ else f"{module}.{base_name}"
        what = f"class {_qualname(obj)}" if isinstance(obj, type) else f"{type(obj).__name__} {_qualname(obj)}"
        raise RegistrationError(f"{self.singular} {name!r}: {what} is not a {base_name} "
                                f"(a {self.singular} must {'subclass' if isinstance(obj, type) else 'be'} {where})")

    # -- lookup -------------------------------------------------------------------------------------
    def get(self, name: str) -> Entry:
        declared = self.declarations()
        if name in self._entries:
            return self._entries[name]
        if name in declared:
            importlib.import_module(declared[name].module)
            if name not in self._entries:
                raise RegistrationError(f"{self.singular} {name!r}: {declared[name].target} declares it "
                                        "but importing it registered nothing")
            return self._entries[name]
        plugins = self._plugin_entry_points()
        if name in plugins:
            self._load_plugin(name, plugins[name])
            if name in self._entries:
                return self._entries[name]
        self._import_packages()  # a registration the source reading could not see (made in a loop, say)
        if name in self._entries:
            return self._entries[name]
        known = sorted(set(self._entries) | set(declared) | set(plugins))
        raise UnknownNameError(f"unknown {self.singular} {name!r}.{did_you_mean(name, known)} "
                               f"(`bench list {self.kind}` shows them all)")

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except UnknownNameError:
            return False
        return True

    def names(self) -> list[str]:
        """Every name, importing no implementation (entry points' names included, unloaded)."""
        return sorted(set(self._entries) | set(self.declarations()) | set(self._plugin_entry_points()))

    def listing(self) -> list[dict]:
        """Every entry as {name, version, description}, sorted by name: the built-ins' read from their source
        (imported ones as registered), entry points loaded (their version lives on their object)."""
        declared = self.declarations()
        self._load_plugins()
        rows = {name: {"name": d.name, "version": d.version, "description": d.description}
                for name, d in declared.items()}
        rows.update({e.name: {"name": e.name, "version": e.version, "description": e.description}
                     for e in self._entries.values()})
        return [rows[name] for name in sorted(rows)]

    def entries(self) -> list[Entry]:
        """Every entry, importing every built-in module and loading every plugin."""
        self.declarations()
        self._import_packages()
        self._load_plugins()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    # -- loading ------------------------------------------------------------------------------------
    def declarations(self) -> dict[str, Declaration]:
        """The built-in packages' registrations, read from their modules' source; the first call also imports
        the ``$BENCH_PLUGINS`` modules, and any built-in module whose registrations cannot be read."""
        if self._declared is None:
            self._declared = {}
            for module_name, path in package_modules(self.packages):
                found = read_declarations(path, module_name, self.registers_with) if path and self.registers_with else None
                if found is None:
                    importlib.import_module(module_name)
                    continue
                for declaration in found:
                    self._declared[declaration.name] = declaration
            import_plugin_modules()
        return self._declared

    def _import_packages(self) -> None:
        for module_name, _ in package_modules(self.packages):
            importlib.import_module(module_name)

    def _plugin_entry_points(self) -> dict[str, Any]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def _load_plugins(self) -> None:
        for name, ep in self._plugin_entry_points().items():
            if name not in self._entries:
                self._load_plugin(name, ep)

    def _load_plugin(self, name: str, ep) -> None:
        obj = ep.load()
        if name not in self._entries:  # it may have registered itself on import
            self.add(name, obj, version=getattr(obj, "version", "1"))


def package_modules(packages: tuple[str, ...]) -> list[tuple[str, Path | None]]:
    """Each package and its public modules as (module name, source file or None), without importing them."""
    out: list[tuple[str, Path | None]] = []
    for package_name in packages:
        spec = importlib.util.find_spec(package_name)
        if spec is None:
            raise ModuleNotFoundError(f"no package {package_name}", name=package_name)
        origin = Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
        out.append((package_name, origin))
        out += _submodules(package_name, spec.submodule_search_locations or [])
    return out


def _submodules(package_name: str, locations) -> list[tuple[str, Path | None]]:
    """A package's public modules and, recursively, its sub-packages' (each package by its ``__init__.py``)."""
    out = []
    for info in pkgutil.iter_modules(locations, prefix=package_name + "."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf.startswith("_"):
            continue
        folder = Path(info.module_finder.path)
        if info.ispkg:
            init = folder / leaf / "__init__.py"
            out.append((info.name, init if init.is_file() else None))
            out += _submodules(info.name, [str(folder / leaf)])
        else:
            source = folder / f"{leaf}.py"
            out.append((info.name, source if source.is_file() else None))
    return out


def read_declarations(path: Path, module_name: str, registers_with: tuple[str, ...]) -> list[Declaration] | None:
    """The registrations a module makes at its top level through one of ``registers_with``, a decorator
    (``@method("name", version="2")`` above a class or function, whose docstring's first line is the default
    description) or a plain call (``improvement("name", ..., description="...")``). None when one of them
    cannot be read without running the module: a name, version or description that is not a literal."""
    source = path.read_text(encoding="utf-8")
    if not any(f"{name}(" in source for name in registers_with):
        return []
    found = []
    for node in ast.parse(source, str(path)).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            calls = [(decorator, node) for decorator in node.decorator_list]
        elif isinstance(node, (ast.Expr, ast.Assign)):
            calls = [(node.value, None)]
        else:
            continue
        for call, defined in calls:
            if not (isinstance(call, ast.Call) and _called_name(call.func) in registers_with):
                continue
            try:
                name = ast.literal_eval(call.args[0])
                given = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in ("version", "description")}
            except (ValueError, TypeError, SyntaxError, IndexError):
                return None
            description = given.get("description")
            if description is None and defined is None:
                return None
            if description is None:
                description = _first_line(ast.get_docstring(defined))
            target = f"{module_name}:{defined.name}" if defined else module_name
            found.append(Declaration(name, str(given.get("version", "1")), description, target))
    return found


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


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


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


METHODS = Registry("methods", ("bench.methods",), registers_with=("method",), base="bench.components.method:Method",
                   meta=("tasks",), required=("tasks",))
DATASETS = Registry("datasets", ("bench.datasets",), registers_with=("dataset",), base="bench.components.dataset:Dataset",
                    meta=("kind",))
CORRUPTIONS = Registry("corruptions", ("bench.corruptions",), registers_with=("corruption",),
                       base="bench.corruptions:Corruption", meta=("task",), required=("task",))
METRICS = Registry("metrics", ("bench.metrics",), registers_with=("metric", "improvement"),
                   base="bench.metrics:Metric")
SUITES = Registry("suites", ("bench.planning.suite",), base="bench.planning.suite:Suite")

REGISTRIES = {r.kind: r for r in (METHODS, DATASETS, CORRUPTIONS, METRICS, SUITES)}
