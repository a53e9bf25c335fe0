"""The layout's rules, read from the source: no import circle among the project's modules (function-local
imports count: hiding a circle inside a function only postpones it), and no module imports another's
private name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"bench": ROOT / "bench", "bench.methods": ROOT / "methods", "bench.datasets": ROOT / "datasets"}


def project_modules(packages: dict[str, Path] = PACKAGES) -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name)."""
    modules = {}
    for dotted, folder in packages.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([dotted, *parts])
            if name.startswith("bench.methods") and dotted == "bench" or name.startswith("bench.datasets") \
                    and dotted == "bench":
                continue
            modules[name] = path
    return modules


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """(imported project module, imported name or None, line) for every import anywhere in the file, and
    for every import by a literal name (``importlib.import_module("bench.commands.train")``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and _names_import_function(node.func) and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in modules:
            found.append((node.args[0].value, None, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = _deepest_module(alias.name, modules)
                if target:
                    found.append((target, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name, path).split(".")
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, None, node.lineno))
                elif base in modules:
                    found.append((base, alias.name, node.lineno))
    return found


def _names_import_function(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def _deepest_module(dotted: str, modules) -> str | None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _, _ in imports(name, path, modules):
            if target != name and not _is_parent_package(target, name):
                graph[name].add(target)
    return graph


def _is_parent_package(package: str, module: str) -> bool:
    # a module's own packages run before it whatever it imports: those edges are not circles of ours
    return module.startswith(package + ".")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def private_imports(modules: dict[str, Path]) -> list[str]:
    bad = []
    for name, path in modules.items():
        for target, imported, line in imports(name, path, modules):
            private = imported if imported else target.rpartition(".")[2]
            if private.startswith("_") and not private.startswith("__") and target != name:
                bad.append(f"{name}:{line} imports {target}" + (f".{imported}" if imported else ""))
    return bad


def test_the_project_has_no_import_circle():
    found = circles(import_graph(project_modules()))
    assert not found, "import circles (function-local imports count):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_another_modules_private_name():
    found = private_imports(project_modules())
    assert not found, "\n".join(found)


def test_a_planted_circle_and_a_private_import_are_found(tmp_path):
    pkg = tmp_path / "bench"
    (pkg / "stage").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "stage" / "__init__.py").write_text("")
    (pkg / "stage" / "a.py").write_text("from bench.stage.b import helper\n")
    (pkg / "stage" / "b.py").write_text("def helper():\n    from bench.stage import c\n")
    (pkg / "stage" / "c.py").write_text("def f():\n    importlib.import_module('bench.stage.a')\n")
    (pkg / "stage" / "d.py").write_text("from bench.stage.a import _hidden\n")
    modules = project_modules({"bench": pkg})
    assert circles(import_graph(modules)) == [["bench.stage.a", "bench.stage.b", "bench.stage.c"]]
    assert private_imports(modules) == ["bench.stage.d:1 imports bench.stage.a._hidden"]


@pytest.mark.parametrize("old, new", [("bench.record", "bench.records.record"),
                                      ("bench.worker", "bench.running.worker")])
def test_old_import_paths_still_work_and_say_they_are_deprecated(old, new):
    import importlib
    import sys
    import warnings

    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)
