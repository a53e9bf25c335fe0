"""Mutation testing of the suites' parameters (benchmarks/mutation.md): mutmut cannot mutate TOML.

For each number and boolean written in a suite file (not in a string or a comment), one at a time: an
integer +1, a float x2 (0.0 made 1.0), a boolean flipped; then the suite's tests run (those of its paper and
those of every suite, not the slow ones), and the mutant is killed when one fails. The ``references`` array
(the paper's printed results) is left out unless ``--with-references``. The suites are mutated in a staging tree (benchmarks/mutation_tree.py) in a temporary
folder, never in the working tree. The heavy imports happen once; each mutant's tests run in a forked child
(the suites are read from disk there, after the edit).

    python benchmarks/mutate_suite_parameters.py mimilakis2020-table1 venkataramani2019-figure3
    python benchmarks/mutate_suite_parameters.py --tests tests/test_mimilakis_suite.py -- mimilakis2020-table2

Prints a markdown table (killed / survived per suite file) and each survivor with its line.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_tree import stage

# the tests that read each paper's suites (by the suite name's prefix), and those that read every suite
SUITE_TESTS = {
    "mimilakis2020": ["tests/test_mimilakis_suite.py", "--deselect",  # its own inline suite, 10 s of training
                      "tests/test_mimilakis_suite.py::test_pooled_median_and_binary_mask_recomputed_from_records",
                      "tests/test_sinusoidal_dae.py::test_each_suite_rows_label_is_the_model_its_parameters_build"],
    "narayanaswamy2021": ["tests/test_narayanaswamy_suites.py"],
    "waveform-prior": ["tests/test_waveform_prior_suites.py"],
    "venkataramani2019": [
        "tests/test_style_transfer_separation.py::test_the_suite_s_stand_ins_keep_genders_and_regions_apart",
        "tests/test_style_transfer_separation.py::test_the_figure3_suite_scores_the_papers_30_mixtures_of_2_s_at_0_db",
        "tests/test_training_jobs.py::test_suite_wide_and_profile_epochs_reach_only_a_method_that_declares_epochs"],
}
COMMON_TESTS = ["tests/test_suites.py", "tests/test_paper_claims.py::test_every_paper_suite_declares_claims_with_sources"]
DEFAULT_SUITES = ["mimilakis2020-table1", "mimilakis2020-table2", "venkataramani2019-figure3",
                  "narayanaswamy2021-figure2", "narayanaswamy2021-table1", "narayanaswamy2021-table2",
                  "narayanaswamy2021-table3", "narayanaswamy2021-table4", "waveform-prior-table1",
                  "waveform-prior-table2", "waveform-prior-table3", "waveform-prior-curves-gaussian",
                  "waveform-prior-curves-uniform"]
VALUE = re.compile(r"(?<![\w.+\-])(?:true|false|[-+]?\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][-+]?\d+)?)(?![\w.])")


@dataclass(frozen=True)
class Mutant:
    start: int
    end: int
    old: str
    new: str
    line: int

    def apply(self, text: str) -> str:
        return text[:self.start] + self.new + text[self.end:]


def code_mask(text: str) -> list[bool]:
    """True for each character outside TOML strings and comments."""
    mask = [True] * len(text)
    i = 0
    while i < len(text):
        if text[i] == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
        elif text[i] in "\"'":
            quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]
            end = i + len(quote)
            while not text.startswith(quote, end):
                end += 2 if text[end] == "\\" and quote[0] == '"' else 1
            end += len(quote)
        else:
            i += 1
            continue
        mask[i:end] = [False] * (end - i)
        i = end
    return mask


def mutated(value: str) -> str:
    if value in ("true", "false"):
        return "false" if value == "true" else "true"
    number = value.replace("_", "")
    if re.fullmatch(r"[-+]?\d+", number):
        return str(int(number) + 1)
    doubled = float(number) * 2
    return repr(doubled) if doubled != 0 else "1.0"


def reference_lines(text: str) -> set[int]:
    """The line numbers of the ``references = [...]`` array: the paper's printed results, not parameters."""
    lines, inside = set(), False
    for number, line in enumerate(text.splitlines(), 1):
        inside = inside or line.startswith("references")
        if inside:
            lines.add(number)
            inside = line.strip() != "]"
    return lines


def mutants(text: str, with_references: bool = False) -> list[Mutant]:
    mask = code_mask(text)
    skipped = set() if with_references else reference_lines(text)
    original = tomllib.loads(text)
    found = []
    for match in VALUE.finditer(text):
        if not all(mask[match.start():match.end()]):
            continue
        mutant = Mutant(match.start(), match.end(), match.group(), mutated(match.group()),
                        text.count("\n", 0, match.start()) + 1)
        if mutant.line in skipped:
            continue
        try:
            if tomllib.loads(mutant.apply(text)) == original:
                continue
        except tomllib.TOMLDecodeError:
            continue
        found.append(mutant)
    return found


def run_tests(tests: list[str], marker: str) -> int:
    """pytest's exit code for the tests, run in a forked child (so every run reads the suites afresh)."""
    pid = os.fork()
    if pid == 0:
        import pytest
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider", "-m", marker]))
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", default=DEFAULT_SUITES, help="suite names (bench/suites/NAME.toml)")
    parser.add_argument("--tests", nargs="+", help="the test files each mutant runs (default: the suite's own "
                        "tests, by its name's prefix, and the tests of every suite)")
    parser.add_argument("--with-references", action="store_true", help="mutate the paper's printed results too")
    parser.add_argument("--marker", default="not slow", help="pytest -m expression (default: %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="suite-mutants-") as folder:
        tree = Path(folder)
        stage(tree)
        os.chdir(tree)
        sys.path.insert(0, str(tree))
        import torch  # noqa: F401

        import bench.cli
        assert Path(bench.__file__).is_relative_to(tree), bench.__file__
        rows, survivors = [], []
        for name in args.suites:
            tests = args.tests or [*next(t for prefix, t in SUITE_TESTS.items() if name.startswith(prefix)),
                                   *COMMON_TESTS]
            if run_tests(tests, args.marker) != 0:
                print(f"{name}: the tests fail on the unmutated suite; skipped", file=sys.stderr)
                continue
            path = tree / "bench" / "suites" / f"{name}.toml"
            text = path.read_text(encoding="utf-8")
            killed = 0
            found = mutants(text, args.with_references)
            try:
                for mutant in found:
                    path.write_text(mutant.apply(text), encoding="utf-8")
                    code = run_tests(tests, args.marker)
                    if code in (1, 2):  # a test fails, or the suite no longer loads (a collection error)
                        killed += 1
                    else:
                        line = text.splitlines()[mutant.line - 1].strip()
                        survivors.append(f"- `{name}.toml`:{mutant.line} `{mutant.old}` -> `{mutant.new}`"
                                         f"{'' if code == 0 else f' (pytest exit {code})'}: `{line[:110]}`")
                    print(f"{name}:{mutant.line} {mutant.old} -> {mutant.new}: "
                          f"{'killed' if code in (1, 2) else 'survived' if code == 0 else f'exit {code}'}",
                          file=sys.stderr, flush=True)
            finally:
                path.write_text(text, encoding="utf-8")
            score = f"{100 * killed / len(found):.1f} %" if found else "-"
            rows.append(f"| `{name}.toml` | {len(found)} | {killed} | {len(found) - killed} | {score} |")
    print("| suite file | mutants | killed | survived | score |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nSurvivors:\n" + "\n".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
