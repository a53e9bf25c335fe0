"""The command line's layout: one module per command in bench/commands/, a small bench/cli.py that only
assembles them, and no import of another module's private name or back into bench.cli (function-local
imports included)."""
from __future__ import annotations

import ast
from pathlib import Path

import bench.cli

BENCH = Path(bench.cli.__file__).parent
CLI_MODULES = [BENCH / "cli.py", *sorted((BENCH / "commands").glob("*.py"))]


def imports_of(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from bench... import name`` in the file, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bench":
            out.extend((node.module, alias.name) for alias in node.names)
    return out


def private_imports(paths) -> list[tuple[Path, str, str]]:
    return [(path, module, name) for path in paths for module, name in imports_of(path)
            if name.startswith("_") and not name.startswith("__")]


def test_the_command_modules_import_no_private_name_and_nothing_imports_the_cli():
    assert private_imports(CLI_MODULES) == []
    everything = [p for p in BENCH.rglob("*.py") if p != BENCH / "cli.py"]
    assert [f"{p.relative_to(BENCH.parent)}: {m}" for p in everything for m, _ in imports_of(p)
            if m == "bench.cli"] == []


def test_the_check_sees_a_planted_private_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from bench.cli import _error\n")
    assert private_imports([planted]) == [(planted, "bench.cli", "_error")]


def test_every_command_lives_in_its_own_module():
    parser = bench.cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        handler = sub.get_default("handler")
        assert handler.__module__.startswith("bench.commands."), (name, handler.__module__)
    assert len((BENCH / "cli.py").read_text().splitlines()) < 120
