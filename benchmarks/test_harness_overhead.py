"""Harness overhead per cell with a no-op method on a 50 ms tone: expansion, dispatch, scoring, store.

Run: pytest benchmarks/test_harness_overhead.py --benchmark-only
Target (issue 2): under 20 ms per cell for 1,000 cells, store included. The per-cell figure is printed;
pytest-benchmark's table gives the seconds per 1,000 cells.
"""
import shutil

import pytest

from bench.planning.cells import expand
from bench.planning.suite import parse_suite
from bench.records.store import ResultsStore
from bench.running.scheduler import run

CELLS = 1000
SUITE = {
    "name": "overhead", "items": CELLS, "seeds": [0], "seconds": 0.05, "metrics": ["si_sdr", "si_sdr_i"],
    "methods": [{"name": "test-noop"}], "datasets": [{"name": "test-tone"}],
    "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}],
}


@pytest.mark.parametrize("backend,jobs", [("sequential", 1), ("loky", 2)])
def test_overhead_per_cell(benchmark, tmp_path, backend, jobs):
    counter = iter(range(10_000))

    def one_run():
        # Expansion and the cache check are part of the overhead, so they are inside the timed call.
        root = tmp_path / f"r{next(counter)}"
        cells = expand(parse_suite(SUITE))
        summary = run(cells, ResultsStore(root), backend=backend, jobs=jobs, progress=False)
        assert summary.ok == CELLS
        shutil.rmtree(root)

    benchmark.pedantic(one_run, rounds=3, iterations=1, warmup_rounds=1)
    per_cell_ms = benchmark.stats.stats.mean / CELLS * 1e3
    benchmark.extra_info["ms_per_cell"] = per_cell_ms
    print(f"\n{backend} x{jobs}: {per_cell_ms:.2f} ms per cell over {CELLS} cells")
