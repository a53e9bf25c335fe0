"""The reporting package's layering: the table model at the bottom, renderers above it, no import cycles,
and no renderer reaching into another module's private names."""
import ast
from pathlib import Path

import bench.reporting

PACKAGE = Path(bench.reporting.__file__).parent


def _imports() -> dict[str, list[tuple[str, list[str]]]]:
    """{module: [(imported bench module, [names])]} for every module of bench/reporting, at any depth."""
    out = {}
    for path in sorted(PACKAGE.glob("*.py")):
        found = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bench"):
                found.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found += [(a.name, []) for a in node.names if a.name.startswith("bench")]
        out[f"bench.reporting.{path.stem}"] = found
    return out


def test_the_reporting_package_has_no_import_cycle():
    graph = {module: {m for m, _ in found if m in _imports()} for module, found in _imports().items()}
    visiting, done = set(), set()

    def visit(module, path):
        assert module not in visiting, " -> ".join([*path, module])
        if module in done:
            return
        visiting.add(module)
        for target in graph[module]:
            visit(target, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in graph:
        visit(module, [])
    assert graph["bench.reporting.tables"] == set()  # the model is the bottom: it imports no renderer


def test_renderers_use_only_public_names_of_the_model():
    for module, found in _imports().items():
        for target, names in found:
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{module} imports {private} from {target}"


def test_old_report_modules_are_gone():
    root = PACKAGE.parent
    for old in ("report.py", "render_latex.py", "html_report.py", "figures.py", "examples.py"):
        assert not (root / old).exists(), old
