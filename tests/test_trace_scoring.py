"""Asynchronous trace scoring (bench/running/trace_scoring.py): the same records as synchronous scoring."""
import pytest

from bench.planning.cells import expand
from bench.planning.suite import parse_suite
from bench.running import trace_scoring
from bench.running.trace_scoring import trace_workers
from bench.running.worker import run_cells


def _cells():
    suite = parse_suite({
        "name": "t", "items": 2, "seeds": [0], "seconds": 0.1, "metrics": ["snr", "si_sdr", "pesq_wb"],
        "methods": [{"name": "unet-conv"}], "datasets": [{"name": "synthetic-speech"}],
        "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}],
        "protocol": {"iterations": 4, "trace_every": 1, "trace_all_metrics": True}})
    return expand(suite)


def _comparable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("wall_time_s", "finished_at", "peak_rss_mb", "provenance")}


def test_asynchronous_scoring_writes_the_synchronous_records(monkeypatch):
    """Same cells, same seeds, on the CPU: scored in this process, and in a pool of two spawned processes
    (a batch of two cells, so the points of both are in flight together): equal records, trace included."""
    cells = _cells()
    monkeypatch.setenv("BENCH_TRACE_WORKERS", "0")
    synchronous = run_cells(cells)
    monkeypatch.setenv("BENCH_TRACE_WORKERS", "2")
    submitted = []  # the points that really went to the pool (else the comparison would be sync with sync)
    original_submit = trace_scoring.AsyncTrace.submit
    monkeypatch.setattr(trace_scoring.AsyncTrace, "submit",
                        lambda self, i, signal: (submitted.append(i), original_submit(self, i, signal))[1])
    asynchronous = run_cells(cells)
    assert sorted(submitted) == [1, 1, 2, 2, 3, 3, 4, 4]
    for sync, async_ in zip(synchronous, asynchronous, strict=True):
        assert sync["status"] == async_["status"] == "ok", async_.get("error")
        assert [p["iteration"] for p in async_["trace"]] == [1, 2, 3, 4]
        assert "pesq_wb" in async_["trace"][0]["scores"]
        assert _comparable(sync) == _comparable(async_)


def test_default_is_asynchronous_on_cuda_only(monkeypatch):
    monkeypatch.delenv("BENCH_TRACE_WORKERS", raising=False)
    assert trace_workers("cpu") == 0
    assert trace_workers("cuda:0") >= 1
    monkeypatch.setenv("BENCH_TRACE_WORKERS", "3")
    assert trace_workers("cpu") == 3
    monkeypatch.setenv("BENCH_TRACE_WORKERS", "many")
    with pytest.raises(ValueError, match="BENCH_TRACE_WORKERS"):
        trace_workers("cpu")
