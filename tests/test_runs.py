"""End-to-end runs through the CLI and the scheduler: failures, resume after kill -9, backends, reports."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from bench.cli import main
from bench.planning.cells import expand
from bench.planning.suite import load_suite
from bench.records.store import ResultsStore
from bench.running.scheduler import pending, run

FAILING_SUITE = """
name = "failing"
items = 4
seeds = [0]
seconds = 0.25
metrics = ["si_sdr", "si_sdr_i"]
[protocol]
iterations = 10
trace_every = 2
[[methods]]
name = "identity"
[[methods]]
name = "test-raises"
[[methods]]
name = "test-nan"
[[methods]]
name = "test-oom"
[[methods]]
name = "test-iterative"
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


def _suite(tmp_path, text, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


def _records(results):
    return list(ResultsStore(results).records())


def test_failures_are_isolated_recorded_and_retried(tmp_path, capsys):
    suite = _suite(tmp_path, FAILING_SUITE, "failing")
    results = tmp_path / "r"
    code = main(["run", "--suite", suite, "--results", str(results), "--jobs", "2", "--no-progress"])
    assert code == 1  # cells failed
    records = _records(results)
    assert len(records) == 5 * 4
    by_method = {}
    for r in records:
        by_method.setdefault(r["config"]["method"]["name"], []).append(r)
    assert all(r["status"] == "ok" for r in by_method["identity"] + by_method["test-iterative"])
    assert all(r["status"] == "failed" and "deliberate failure" in r["error"] for r in by_method["test-raises"])
    assert all(r["status"] == "failed" and r["error"].startswith("out of memory") for r in by_method["test-oom"])
    nan_status = sorted(r["status"] for r in by_method["test-nan"])
    assert "failed" in nan_status and "ok" in nan_status  # NaN only on odd method seeds
    assert all("non-finite" in r["error"] for r in by_method["test-nan"] if r["status"] == "failed")
    out = capsys.readouterr()
    assert "Corrupted input" not in out.out  # labels default to names
    assert "identity" in out.out

    # The iterative method's trace is scored by the harness; oracle = best traced value.
    r = by_method["test-iterative"][0]
    assert [p["iteration"] for p in r["trace"]] == [2, 4, 6, 8, 10]
    assert r["oracle_scores"]["si_sdr"] == pytest.approx(max(p["scores"]["si_sdr"] for p in r["trace"]))
    # Improvements are derived on traced iterates too, so an oracle table has them.
    assert r["oracle_scores"]["si_sdr_i"] == pytest.approx(r["oracle_scores"]["si_sdr"] - r["input_scores"]["si_sdr"])
    # A method that traces nothing has one iterate: its oracle is its estimate (its row is in oracle tables).
    r = by_method["identity"][0]
    assert not r["trace"] and r["oracle_scores"] == r["scores"]

    # A rerun dispatches nothing; --retry-failed reruns exactly the failed cells.
    before = {r["key"]: r["finished_at"] for r in records if r["status"] == "ok"}
    failed = {r["key"] for r in records if r["status"] != "ok"}
    assert main(["run", "--suite", suite, "--results", str(results), "--no-progress", "--no-report"]) == 1
    assert "0 to run" in capsys.readouterr().err
    assert main(["run", "--suite", suite, "--results", str(results), "--no-progress", "--no-report",
                 "--retry-failed", "--backend", "sequential"]) == 1
    assert f"{len(failed)} to run" in capsys.readouterr().err
    after = _records(results)
    assert {r["key"]: r["finished_at"] for r in after if r["key"] in before} == before
    assert len(after) == len(records)


def test_timeouts_are_recorded_as_timeout(tmp_path):
    suite = _suite(tmp_path, FAILING_SUITE.replace('name = "test-raises"', 'name = "test-slow"'), "slow")
    cells = [c for c in expand(load_suite(suite)) if c.method["name"] == "test-slow"][:1]
    cells[0].run_options["timeout_s"] = 0.3
    store = ResultsStore(tmp_path / "r")
    summary = run(cells, store, backend="sequential", progress=False)
    assert summary.timeout == 1
    record = store.read(cells[0].key)
    assert record["status"] == "timeout" and "time limit" in record["error"]
    assert record["run_options"] == {"timeout_s": 0.3} and "timeout_s" not in record["labels"]


SLOW_SUITE = """
name = "slow"
items = 12
seeds = [0]
seconds = 0.1
metrics = ["si_sdr"]
[protocol]
iterations = 4
[[methods]]
name = "test-slow"
params = { seconds = 0.5 }
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


def test_resume_after_sigkill_finishes_only_the_missing_cells(tmp_path):
    suite = _suite(tmp_path, SLOW_SUITE, "slow")
    results = tmp_path / "r"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--suite", suite, "--results", str(results), "--jobs", "2",
           "--no-progress", "--no-report"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = ResultsStore(results)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(store.cells_dir.glob("*/*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-run
    proc.wait()
    survivors = {r["key"]: r["finished_at"] for r in store.records()}
    # 2 s of sleeping per cell, two workers: the kill lands with at least 8 s of work left even on a loaded machine
    assert 3 <= len(survivors) < 12, f"{len(survivors)} records when the run was killed"
    assert not list(store.cells_dir.glob("*/*.tmp"))  # no half-written record is visible as a record

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(survivors)} already done, {12 - len(survivors)} to run" in done.stderr
    final = {r["key"]: r["finished_at"] for r in store.records()}
    assert len(final) == 12
    assert all(final[k] == v for k, v in survivors.items())  # nothing finished was redone


def test_dask_backend_on_a_local_cluster_gives_the_local_scores(tmp_path):
    pytest.importorskip("distributed")
    cells = [c for c in expand(load_suite("smoke"), "smoke")][:6]
    local, remote = ResultsStore(tmp_path / "local"), ResultsStore(tmp_path / "dask")
    assert run(cells, local, jobs=2, progress=False).ok == 6
    summary = run(cells, remote, jobs=2, backend="dask", progress=False)
    assert summary.ok == 6
    for cell in cells:
        a, b = local.read(cell.key), remote.read(cell.key)
        assert a["scores"] == b["scores"] and a["input_scores"] == b["input_scores"]


def test_shards_partition_the_cells(tmp_path):
    from bench.running.scheduler import parse_shard, shard

    cells = expand(load_suite("smoke"))
    parts = [shard(cells, parse_shard(f"{i}/3")) for i in (1, 2, 3)]
    keys = [c.key for part in parts for c in part]
    assert sorted(keys) == sorted(c.key for c in cells) and len(keys) == len(set(keys))
    with pytest.raises(ValueError):
        parse_shard("4/3")


def test_smoke_suite_end_to_end_with_status_and_report(tmp_path):
    results = str(tmp_path / "r")
    env = {**os.environ, "BENCH_RESULTS": results}
    run_out = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--suite", "smoke", "--no-progress"],
                             capture_output=True, text=True, env=env, timeout=600)
    assert run_out.returncode == 0, run_out.stderr
    assert "| Gaussian noise σ=0.05 | Corrupted input |" in run_out.stdout
    assert "SYNTHETIC" in run_out.stdout

    status = subprocess.run([sys.executable, "-m", "bench.cli", "status", "--suite", "smoke", "--json"],
                            capture_output=True, text=True, env=env, check=True)
    counts = json.loads(status.stdout)
    assert counts["total"] == counts["done"] == 32 and counts["pending"] == counts["failed"] == 0

    # The rendered numbers are the pandas aggregation of the stored records.
    csv = subprocess.run([sys.executable, "-m", "bench.cli", "report", "--suite", "smoke", "--format", "csv",
                          "--parquet", str(tmp_path / "long.parquet")],
                         capture_output=True, text=True, env=env, check=True).stdout
    from io import StringIO

    table = pd.read_csv(StringIO(csv))
    long = pd.read_parquet(tmp_path / "long.parquet")
    sel = long[(long.method == "Spectral Wiener") & (long.dataset == "Speech (synthetic)")
               & (long.metric == "si_sdr") & (long.which == "estimate")]
    row = table[(table.method == "Spectral Wiener") & (table.dataset == "Speech (synthetic)")
                & (table.metric == "si_sdr")].iloc[0]
    assert row["mean"] == pytest.approx(sel["value"].mean())
    assert row["std"] == pytest.approx(sel["value"].std(ddof=1))
    assert row["n"] == len(sel) == 4
    # AR gap fill beats leaving the gaps in: a classical method restores something real.
    gap = table[(table.corruption == "4 gaps of 5 ms") & (table.metric == "si_sdr_i")]
    assert (gap[gap.method == "AR gap fill"]["mean"] > 0).all()
    md = subprocess.run([sys.executable, "-m", "bench.cli", "report", "--suite", "smoke"],
                        capture_output=True, text=True, env=env, check=True).stdout
    assert f"{row['mean']:.2f} ± {row['std']:.2f}" in md


def test_dry_run_prints_the_grid_and_what_is_done(tmp_path, capsys):
    results = str(tmp_path / "r")
    assert main(["run", "--suite", "smoke", "--profile", "smoke", "--results", results, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "16 cells, 0 done, 16 to run" in out
    cells = expand(load_suite("smoke"), "smoke")
    run(cells[:5], ResultsStore(results), backend="sequential", progress=False)
    assert main(["run", "--suite", "smoke", "--profile", "smoke", "--results", results, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "16 cells, 5 done, 11 to run" in out and "CPU-minutes" in out
    assert len(pending(cells, ResultsStore(results))) == 11


def test_unknown_suite_is_a_clear_error(capsys):
    assert main(["run", "--suite", "smok"]) == 2
    err = capsys.readouterr().err
    assert "unknown suite 'smok'" in err and "smoke" in err


def test_a_worker_that_dies_fails_only_its_cells(tmp_path):
    suite = _suite(tmp_path, SLOW_SUITE.replace('name = "test-slow"\nparams = { seconds = 0.5 }',
                                                'name = "test-crash"').replace("items = 12", "items = 6"), "crash")
    cells = expand(load_suite(suite))
    crashing = {c.key for c in cells if c.method_seed % 3 == 0}
    assert 0 < len(crashing) < len(cells)
    store = ResultsStore(tmp_path / "r")
    summary = run(cells, store, jobs=2, progress=False)
    assert summary.ok == len(cells) - len(crashing) and summary.failed == len(crashing)
    for key in crashing:
        record = store.read(key)
        assert record["status"] == "failed" and "worker process died" in record["error"]
