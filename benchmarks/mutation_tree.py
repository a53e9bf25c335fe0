"""Build a staging tree in which mutmut 3 can mutate methods/ and datasets/ (benchmarks/mutation.md).

The editable install maps ``bench.methods`` to the top-level ``methods/`` and ``bench.datasets`` to
``datasets/`` (pyproject ``package-dir``). mutmut 3 names a mutant by its file's path and copies the tree
into ``mutants/``, so in the repository itself a mutant of ``methods/x.py`` is called ``methods.x...``
while the tests import ``bench.methods.x``, from the working tree rather than from ``mutants/``.

The staging tree lays the package out as it is imported: ``bench/`` with ``methods/`` copied to
``bench/methods/`` and ``datasets/`` to ``bench/datasets/``, beside ``tests/``, ``README.md``,
``results/golden/`` and a ``pyproject.toml`` whose ``[tool.mutmut]`` names the modules to mutate and the
test files to run. Inside it mutmut names a mutant ``bench.methods.x...``, and the tests import the
mutants' copy: mutmut puts ``mutants/`` first on ``sys.path``, so the path finder resolves ``bench`` and
its subpackages there before the editable install's finder (which Python consults last) is asked.

    python benchmarks/mutation_tree.py methods/sinusoidal_dae.py --tests tests/test_sinusoidal_dae.py
    cd mutation-tree && OMP_NUM_THREADS=1 mutmut run --max-children 1

Modules are named by their path in the repository (``methods/x.py``, ``datasets/y.py``, ``bench/z.py``).
The tree is rebuilt from scratch each time (its ``mutants/`` with it); git ignores ``mutation-tree/``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# where each top-level folder of the repository sits in the staged package
STAGED_AS = {"bench": "bench", "methods": "bench/methods", "datasets": "bench/datasets"}
ALSO_COPY = ["tests/", "README.md", "results/golden/"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def staged_path(module: str) -> str:
    """The path of a repository module inside the staging tree: methods/x.py -> bench/methods/x.py."""
    top, _, rest = Path(module).as_posix().partition("/")
    if top not in STAGED_AS or not rest.endswith(".py") or not (ROOT / module).is_file():
        raise ValueError(f"{module}: not a .py file under {', '.join(STAGED_AS)}/")
    return f"{STAGED_AS[top]}/{rest}"


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def mutmut_config(modules: list[str], tests: list[str], deselect: list[str] = ()) -> str:
    pytest_args = ["-q", "-x", "-p", "no:cacheprovider", *(arg for node in deselect for arg in ("--deselect", node))]
    return "\n".join([
        "[tool.mutmut]",
        "# written by benchmarks/mutation_tree.py",
        'source_paths = ["bench/"]',
        f"only_mutate = {toml_list([staged_path(module) for module in modules])}",
        f"also_copy = {toml_list(ALSO_COPY)}",
        f"pytest_add_cli_args = {toml_list(pytest_args)}",
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
        "use_git_change_detection = false",  # the staging tree is no git repository
        "",
    ])


def stage(dest: Path) -> None:
    """Copy the package, laid out as imported, and what the tests read into ``dest`` (emptied first), with the
    project's pyproject.toml up to its ``[tool.mutmut]`` section (the pytest settings)."""
    if dest.exists():
        shutil.rmtree(dest)
    for top, staged in STAGED_AS.items():
        shutil.copytree(ROOT / top, dest / staged, ignore=IGNORE)
    for path in ALSO_COPY:
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, dest / path, ignore=IGNORE)
        else:
            shutil.copy2(source, dest / path)
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (dest / "pyproject.toml").write_text(project[:project.index("[tool.mutmut]")], encoding="utf-8")


def build(dest: Path, modules: list[str], tests: list[str], deselect: list[str] = ()) -> None:
    for test in tests:
        if not (ROOT / test.partition("::")[0]).is_file():
            raise FileNotFoundError(f"{test}: no such test file")
    config = mutmut_config(modules, tests, deselect)  # checks the module paths before anything is copied
    stage(dest)
    with open(dest / "pyproject.toml", "a", encoding="utf-8") as project:
        project.write(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="repository paths of the modules to mutate, e.g. methods/wpe.py")
    parser.add_argument("--tests", nargs="+", required=True, help="the test files (or pytest node ids) each mutant runs")
    parser.add_argument("--deselect", nargs="+", default=[], help="pytest node ids to leave out (slow tests)")
    parser.add_argument("--dest", type=Path, default=ROOT / "mutation-tree", help="the staging tree (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        build(args.dest, args.modules, args.tests, args.deselect)
    except (ValueError, FileNotFoundError) as error:
        print(f"mutation_tree: {error}", file=sys.stderr)
        return 2
    print(f"staged {len(args.modules)} module(s) and {len(args.tests)} test file(s) in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
