"""How far the golden numbers move with what changes between machines, measured on one machine.

Runs the golden suites (results/golden/*.toml, or those named by --suite) once per configuration, each in a
fresh process (torch reads ATEN_CPU_CAPABILITY, oneDNN and MKL their instruction-set variables, at import),
one after the other:

- ``native``: this machine's own dispatch (torch.backends.cpu.get_cpu_capability() says which),
- ``aten-default`` / ``aten-avx2`` / ``aten-avx512``: torch's kernels pinned to one instruction set (a CPU
  without it falls back to the best it has: the report prints the capability each run really got),
- ``isa-avx2``: oneDNN and MKL held to AVX2, MKL in its conditional-numerical-reproducibility mode,
- ``threads-2``: the native dispatch on two torch threads (every other configuration runs on one).

Then prints, per family (method family x metric family, as bench.analysis.golden.TOLERANCES groups them), the
largest difference of any configuration from ``native`` and from the committed numbers, beside the family's
tolerance. A NaN in one run and a number in another is counted apart (it is a change of definedness).

    python benchmarks/golden_spread.py --out /tmp/spread            # every configuration, every suite
    python benchmarks/golden_spread.py --out /tmp/spread --suite golden-priors --config native,aten-default

Runs already in --out are reused (delete a CSV to rerun it). It takes one golden run per configuration.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HELD_ISA = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "MKL_CBWR": "COMPATIBLE"}
CONFIGS = {
    "native": ({}, 1),
    "aten-default": ({"ATEN_CPU_CAPABILITY": "default"}, 1),
    "aten-avx2": ({"ATEN_CPU_CAPABILITY": "avx2"}, 1),
    "aten-avx512": ({"ATEN_CPU_CAPABILITY": "avx512"}, 1),
    "isa-avx2": (HELD_ISA, 1),
    "threads-2": ({}, 2),
}


def run_one(out: Path, threads: int, suites: list[str]) -> None:
    """In this process (its environment already set): run the golden suites and write their numbers."""
    import torch

    from bench.analysis import golden

    with tempfile.TemporaryDirectory(prefix="golden-spread-") as tmp:
        for path in sorted(golden.GOLDEN_DIR.glob("*.toml")):
            if not suites or path.stem in suites:
                shutil.copy(path, tmp)
        frame, failed = golden.run_golden(Path(tmp), threads=threads)
    if failed:
        sys.exit(f"golden cells failed: {failed}")
    frame.assign(capability=torch.backends.cpu.get_cpu_capability()).to_csv(out, index=False,
                                                                            float_format="%.9g")


def spread(runs: dict[str, pd.DataFrame], committed: pd.DataFrame) -> pd.DataFrame:
    """Per family: the largest |difference| from the native run and from the committed numbers."""
    from bench.analysis import golden

    keys = golden.KEYS
    base = runs["native"][keys + ["value"]]
    rows = []
    for reference_name, reference in (("native", base), ("committed", committed[keys + ["value"]])):
        for name, frame in runs.items():
            merged = frame[keys + ["value"]].merge(reference, on=keys, suffixes=("", "_ref"))
            merged["family"] = [f"{golden.method_family(m, w)} / {golden.metric_family(x)}"
                                for m, w, x in zip(merged["method"], merged["which"], merged["metric"])]
            merged["difference"] = np.abs(merged["value"] - merged["value_ref"])
            merged["definedness"] = merged["value"].isna() != merged["value_ref"].isna()
            merged["tolerance"] = golden.tolerance(merged.assign(value=merged["value_ref"]))
            for family, group in merged.groupby("family"):
                worst = group.loc[group["difference"].idxmax()] if group["difference"].notna().any() else None
                rows.append({"against": reference_name, "config": name, "family": family,
                             "max_difference": group["difference"].max(),
                             "definedness_changes": int(group["definedness"].sum()),
                             "beyond_tolerance": int((group["difference"] > group["tolerance"]).sum()),
                             "worst": None if worst is None else f"{worst['method']} {worst['metric']}"})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for one CSV per configuration and the report")
    parser.add_argument("--config", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--suite", action="append", default=[], help="only this golden suite (repeatable)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration in this process
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.one:
        run_one(Path(args.one), args.threads, args.suite)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.config.split(",") if n]
    if "native" not in names:
        names.insert(0, "native")
    runs = {}
    for name in names:
        env, threads = CONFIGS[name]
        path = out / f"{name}.csv"
        if not path.exists():
            command = [sys.executable, __file__, "--out", str(out), "--one", str(path), "--threads", str(threads)]
            command += [a for s in args.suite for a in ("--suite", s)]
            print(f"running {name} ({env or 'native'}, {threads} thread(s))", flush=True)
            subprocess.run(command, env={**os.environ, **env, "OMP_NUM_THREADS": str(threads)}, check=True)
        runs[name] = pd.read_csv(path, dtype={"item": str})
        print(f"{name}: torch capability {runs[name]['capability'].iloc[0]}, {len(runs[name])} numbers")
    from bench.analysis import golden

    report = spread(runs, golden.read_numbers())
    report.to_csv(out / "spread.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_colwidth", 60):
        for against, group in report.groupby("against", sort=False):
            print(f"\nlargest |difference| from the {against} numbers, per family and configuration:")
            print(group.pivot_table(index="family", columns="config", values="max_difference").to_string(
                float_format=lambda v: f"{v:.2e}"))
            worst = group.sort_values("max_difference", ascending=False).drop_duplicates("family")
            print(worst[["family", "config", "max_difference", "worst", "definedness_changes",
                         "beyond_tolerance"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
