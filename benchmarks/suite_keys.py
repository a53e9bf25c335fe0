"""Every cell key and training-job key of the registered suites, the golden suites and these benchmarks' suites,
under the smoke, cpu and paper profiles (synthetic stand-ins, so no corpus is needed): one line per cell,
``<suite> <profile> cell <cell key> <training key or ->``.

Run it before and after a change that should move no key (a new training key at its default, a new
protocol field), and diff the two outputs: only the suites the change means to alter may differ.

    OMP_NUM_THREADS=1 python benchmarks/suite_keys.py > /tmp/keys-before.txt   # about 3 minutes on one core
"""
from __future__ import annotations

import glob
import sys
from pathlib import Path

from bench.core.registry import SUITES
from bench.planning.cells import expand
from bench.planning.suite import load_suite

PROFILES = ("smoke", "cpu", "paper")
ROOT = Path(__file__).resolve().parents[1]


def suite_names() -> list[str]:
    files = sorted(glob.glob(str(ROOT / "results" / "golden" / "*.toml"))
                   + glob.glob(str(ROOT / "benchmarks" / "suites" / "*.toml")))
    return [name for name in SUITES.names() if name != "all"] + [str(Path(f).relative_to(ROOT)) for f in files]


def main() -> None:
    for name in suite_names():
        suite = load_suite(str(ROOT / name) if name.endswith(".toml") else name)
        for profile in PROFILES:
            for cell in expand(suite, profile, synthetic=True):
                training = cell.training.key if cell.training is not None else "-"
                sys.stdout.write(f"{name} {profile} cell {cell.key} {training}\n")


if __name__ == "__main__":
    main()
