"""Golden results: small committed suites and their committed per-item numbers, re-run from scratch and
compared, so a change that silently alters a metric, a corruption, a dataset or a method is caught.

The suites (every ``*.toml`` of ``results/golden/``) run on the CPU in a few minutes. ``bench check`` runs
them into a fresh temporary results folder (never the cache: a change that keeps a version number keeps the
cell keys too) and compares every final and input score with ``results/golden/numbers.csv`` within its
family's tolerance (``tolerance``: ``TOLERANCES`` by method family and metric family). The tolerances were set
from the spread measured across kernel dispatches, instruction sets and thread counts on one machine
(``benchmarks/golden_spread.py``; the figures are in results/golden/README.md). When a change is meant to
alter the numbers, refresh them on purpose with ``bench check --update`` and commit the new ``numbers.csv``
with the change that explains it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REL_TOL = 1e-4
# Method families, by the label the golden numbers carry; any other method (a user's golden folder) is
# "classical", the strictest. Input scores (the corrupted input, no method) count as "classical" too.
METHOD_FAMILIES = {
    "prior fit": {"unet-conv", "unet-exp-dense", "waveform-demucs", "wave-unet", "dap-separation"},
    "trained": {"DAE mod-cos, C = 16", "UDT", "Supervised VAE"},
}
# Absolute tolerance in the metric's unit, per (method family, metric family), plus REL_TOL x |golden|.
# Each is well above the largest spread measured across kernel dispatches, oneDNN/MKL instruction sets and
# thread counts (benchmarks/golden_spread.py; largest spread in the comment) and well below what a change of
# the method moves (a change of seed, in the comment; results/golden/README.md has the details).
TOLERANCES = {
    ("prior fit", "ratio"): 5e-5,  # spread 4.4e-6 dB; a change of seed moves them 3.8e-4 dB and more
    ("prior fit", "envelope"): 2e-6,  # spread 3.7e-7; a change of seed 2.4e-5 and more
    ("trained", "ratio"): 5e-2,  # spread 1.3e-2 dB (MKL/oneDNN held to AVX2); a change of seed: median 0.14 dB, up to 0.75
}
# Every other family (classical methods and every input score, any metric): spread 4.4e-5 (LSD), the
# rest under 4e-6; 1e-3 in the metric's unit (dB, MOS, STOI, envelope amplitude) is far below a real change.
DEFAULT_ABS_TOL = 1e-3
ABS_TOL = DEFAULT_ABS_TOL  # its older name, from when every number had this one tolerance
GOLDEN_DIR = Path(__file__).resolve().parents[2] / "results" / "golden"
KEYS = ["method", "dataset", "corruption", "item", "seed", "metric", "which"]


@dataclass
class CheckResult:
    compared: int
    mismatches: pd.DataFrame  # KEYS + golden, current, difference
    missing: list[tuple]  # in the golden numbers, not produced now
    extra: list[tuple]  # produced now, not in the golden numbers
    failed_cells: list[str]

    @property
    def ok(self) -> bool:
        return self.mismatches.empty and not self.missing and not self.extra and not self.failed_cells


def method_family(method: str, which: str = "estimate") -> str:
    if which != "estimate":
        return "classical"
    return next((family for family, labels in METHOD_FAMILIES.items() if method in labels), "classical")


def metric_family(metric: str) -> str:
    base = metric.split("_src")[0]
    if base.startswith(("sdr_v", "sir_v", "sar_v")):
        return "bss"
    if base.startswith("pesq"):
        return "pesq"
    if base.startswith(("stoi", "envelope", "lsd")):
        return base.split("_")[0]
    return "ratio"  # SI-SDR, SNR, the PSNRs, spectral SNR, their gap variants and improvements (dB)


def tolerance(frame: pd.DataFrame) -> pd.Series:
    """Each golden number's tolerance: its family's absolute tolerance plus REL_TOL x |value|."""
    absolute = [TOLERANCES.get((method_family(m, w), metric_family(x)), DEFAULT_ABS_TOL)
                for m, w, x in zip(frame["method"], frame["which"], frame["metric"])]
    return pd.Series(absolute, index=frame.index) + REL_TOL * np.abs(frame["value"])


def run_golden(golden_dir: Path = GOLDEN_DIR, data_root=None, threads: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """Run every golden suite (each ``*.toml`` of the folder) from scratch in this process on ``threads``
    torch threads; the long table of estimate and input scores."""
    from bench.planning.cells import expand
    from bench.planning.suite import read_suite_file
    from bench.records.store import ResultsStore
    from bench.running import scheduler

    cells = [cell for path in sorted(golden_dir.glob("*.toml"))
             for cell in expand(read_suite_file(path), "paper", data_root=data_root)]
    from bench.running.train_stage import TRAIN_THREADS_ENV

    with tempfile.TemporaryDirectory(prefix="bench-golden-") as tmp:
        store = ResultsStore(tmp)
        import torch

        # the same thread count on any machine, whatever OMP_NUM_THREADS says, for the cells and for training
        # (the tolerances cover 1 and 2 threads; a 64-core default would be an untested arithmetic)
        previous, before = os.environ.get(TRAIN_THREADS_ENV), torch.get_num_threads()
        os.environ[TRAIN_THREADS_ENV] = str(threads)
        torch.set_num_threads(threads)
        try:
            scheduler.run(cells, store, devices="cpu", jobs=1, backend="sequential", data_root=data_root,
                          progress=False)
        finally:
            torch.set_num_threads(before)
            if previous is None:
                os.environ.pop(TRAIN_THREADS_ENV)
            else:
                os.environ[TRAIN_THREADS_ENV] = previous
        frame = store.table([c.key for c in cells], {c.key: c.labels for c in cells})
    failed = sorted(set(frame.loc[frame["status"] != "ok", "key"]))
    frame = frame[(frame["status"] == "ok") & frame["which"].isin(["estimate", "input"])]
    return frame[KEYS + ["value"]].sort_values(KEYS).reset_index(drop=True), failed


def read_numbers(golden_dir: Path = GOLDEN_DIR) -> pd.DataFrame:
    path = golden_dir / "numbers.csv"
    if not path.exists():
        raise FileNotFoundError(f"no golden numbers at {path}; write them with `bench check --update`")
    return pd.read_csv(path, dtype={"item": str})


def write_numbers(frame: pd.DataFrame, golden_dir: Path = GOLDEN_DIR) -> Path:
    path = golden_dir / "numbers.csv"
    frame.to_csv(path, index=False, float_format="%.6f")
    return path


def compare(current: pd.DataFrame, golden: pd.DataFrame, failed: list[str]) -> CheckResult:
    merged = golden.merge(current, on=KEYS, how="outer", suffixes=("_golden", "_current"), indicator=True)
    both = merged[merged["_merge"] == "both"].copy()
    both = both.rename(columns={"value_golden": "golden", "value_current": "current"})
    both["difference"] = both["current"] - both["golden"]
    same_nan = both["golden"].isna() & both["current"].isna()
    both["tolerance"] = tolerance(both.rename(columns={"golden": "value"}))
    within = np.abs(both["difference"]) <= both["tolerance"]
    mismatches = both[~(within | same_nan)][KEYS + ["golden", "current", "difference", "tolerance"]]
    rows = lambda side: [tuple(r) for r in merged.loc[merged["_merge"] == side, KEYS].itertuples(index=False)]  # noqa: E731
    return CheckResult(len(both), mismatches.reset_index(drop=True), rows("left_only"), rows("right_only"), failed)
