"""Golden results: small committed suites and their committed per-item numbers, re-run from scratch and
compared, so a change that silently alters a metric, a corruption, a dataset or a method is caught.

The suites (every ``*.toml`` of ``results/golden/``) run on the CPU in about a minute. ``bench check`` runs
them into a fresh temporary results folder (never the cache: a change that keeps a version number keeps the
cell keys too) and compares every final and input score with ``results/golden/numbers.csv`` within ``ABS_TOL + REL_TOL *
|golden|``. When a change is meant to alter the numbers, refresh them on purpose with
``bench check --update`` and commit the new ``numbers.csv`` with the change that explains it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ABS_TOL = 1e-3  # in the metric's unit (dB for the golden suite's metrics)
REL_TOL = 1e-4
GOLDEN_DIR = Path(__file__).resolve().parent.parent / "results" / "golden"
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


def run_golden(golden_dir: Path = GOLDEN_DIR, data_root=None) -> tuple[pd.DataFrame, list[str]]:
    """Run every golden suite (each ``*.toml`` of the folder) from scratch in this process; the long table of
    estimate and input scores."""
    from bench import scheduler
    from bench.cells import expand
    from bench.store import ResultsStore
    from bench.suite import read_suite_file

    cells = [cell for path in sorted(golden_dir.glob("*.toml"))
             for cell in expand(read_suite_file(path), "paper", data_root=data_root)]
    from bench.train_stage import TRAIN_THREADS_ENV

    with tempfile.TemporaryDirectory(prefix="bench-golden-") as tmp:
        store = ResultsStore(tmp)
        import torch

        # numbers depend on the thread count (float rounding of reductions): one thread, on any machine and
        # whatever OMP_NUM_THREADS says, for the cells and for training
        previous, threads = os.environ.get(TRAIN_THREADS_ENV), torch.get_num_threads()
        os.environ[TRAIN_THREADS_ENV] = "1"
        torch.set_num_threads(1)
        try:
            scheduler.run(cells, store, devices="cpu", jobs=1, backend="sequential", data_root=data_root,
                          progress=False)
        finally:
            torch.set_num_threads(threads)
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
    within = np.abs(both["difference"]) <= ABS_TOL + REL_TOL * np.abs(both["golden"])
    mismatches = both[~(within | same_nan)][KEYS + ["golden", "current", "difference"]]
    rows = lambda side: [tuple(r) for r in merged.loc[merged["_merge"] == side, KEYS].itertuples(index=False)]  # noqa: E731
    return CheckResult(len(both), mismatches.reset_index(drop=True), rows("left_only"), rows("right_only"), failed)
