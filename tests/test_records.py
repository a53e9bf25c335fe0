"""Records that stand alone: the schema, damaged records, claims between concurrent runs, reports from the
results folder without corpora or flags."""
import io
import json
import os
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

import corpus_fixtures as fx
from bench.claims import Claims
from bench.cli import main
from bench.record import RECORD_FORMAT, RecordError, check
from bench.store import ResultsStore
from conftest import write_suite

COUNTED_SUITE = """
name = "counted"
items = {items}
seeds = [0]
seconds = 0.1
sample_rate = 8000
metrics = ["si_sdr"]
[[methods]]
name = "test-counted"
params = {{ seconds = {seconds} }}
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = {{ std = 0.1 }}
"""

LJSPEECH_SUITE = """
name = "lj"
items = 2
seeds = [0]
seconds = 0.5
sample_rate = 8000
metrics = ["si_sdr"]
[[methods]]
name = "identity"
label = "Noisy input"
[[datasets]]
name = "ljspeech"
label = "LJ"
split = "all"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


def _suite(tmp_path, text, name):
    return str(write_suite(tmp_path, text, name))


def _bench(*args, env=None):
    """``bench`` in a fresh process (the way a user runs it; concurrency needs real processes)."""
    return subprocess.Popen([sys.executable, "-m", "bench.cli", *args], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _counted(tmp_path, items=4, seconds=0.05):
    suite = _suite(tmp_path, COUNTED_SUITE.format(items=items, seconds=seconds), "counted")
    count = tmp_path / "count.txt"
    os.environ["BENCH_TEST_COUNT"] = str(count)  # inherited by the workers and by _bench's processes
    return suite, count


def _run_args(suite, results, backend="sequential"):
    return ["run", "--suite", suite, "--results", str(results), "--jobs", "1", "--backend", backend,
            "--no-progress", "--no-report"]


def _executions(count):
    return count.read_text().split() if count.exists() else []


# -- the schema -----------------------------------------------------------------------------------------
def test_write_stamps_and_validates(tmp_path):
    store = ResultsStore(tmp_path)
    config = {"method": {"name": "identity"}, "dataset": {"name": "test-tone"}, "corruption": {"name": "x"},
              "item": "0001", "seed": 0}
    store.write({"key": "ab" * 16, "config": config, "labels": {}, "status": "ok"})
    record = store.read("ab" * 16)
    assert record["format"] == RECORD_FORMAT and record["synthetic"] is True  # test-tone is generated
    with pytest.raises(RecordError, match="unknown status 'done'"):
        store.write({"key": "cd" * 16, "config": config, "labels": {}, "status": "done"})
    assert not store.path("cd" * 16).exists()
    with pytest.raises(RecordError, match="'seed'"):
        check({**record, "config": {**config, "seed": "0"}})


# -- damaged records ------------------------------------------------------------------------------------
def test_damaged_records_are_listed_rerun_and_never_counted(tmp_path, capsys):
    suite, count = _counted(tmp_path, items=8)
    results = tmp_path / "r"
    assert main(_run_args(suite, results)) == 0
    store = ResultsStore(results)
    records = sorted(store.records(), key=lambda r: r["key"])
    assert len(records) == 8 and len(_executions(count)) == 8
    paths = [store.path(r["key"]) for r in records]

    def rewrite(path, change):
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    rewrite(paths[0], lambda d: d.pop("status"))
    rewrite(paths[1], lambda d: d.pop("config"))
    rewrite(paths[2], lambda d: d.update(status="finished"))
    paths[3].write_text(paths[3].read_text()[:40])  # truncated
    paths[4].write_text("")
    paths[5].write_text("not json at all")
    copy = paths[6].parent / f"{'0' * 32}.json"  # a valid record copied under another name
    copy.write_text(paths[6].read_text())
    expected = {paths[0]: "no 'status' field", paths[1]: "no 'config' field",
                paths[2]: "unknown status 'finished'", paths[3]: "not valid JSON", paths[4]: "empty file",
                paths[5]: "not valid JSON", copy: "file name is not the record's key"}

    capsys.readouterr()
    assert main(["status", "--suite", suite, "--results", str(results), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["total"], status["done"], status["pending"]) == (8, 2, 6)
    listed = {d["path"]: d["reason"] for d in status["damaged"]}
    assert set(listed) == {str(p) for p in expected}
    for path, reason in expected.items():
        assert reason in listed[str(path)]
    assert main(["status", "--suite", suite, "--results", str(results)]) == 0
    text = capsys.readouterr().out
    assert "7 damaged records" in text and f"{paths[0]}: no 'status' field" in text

    # The copy is not counted beside the original: each key once in the report's long table.
    assert main(["report", "--suite", suite, "--results", str(results), "--format", "csv",
                 "--parquet", str(tmp_path / "long.parquet")]) == 0
    capsys.readouterr()
    long = pd.read_parquet(tmp_path / "long.parquet")
    estimate = long[(long["which"] == "estimate") & (long["metric"] == "si_sdr")]
    assert sorted(estimate["key"]) == sorted(r["key"] for r in records[6:8])

    # run: exactly the six damaged cells run again, and their records are whole afterwards.
    assert main(_run_args(suite, results)) == 0
    assert len(_executions(count)) == 8 + 6
    assert main(["status", "--suite", suite, "--results", str(results), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["done"], status["pending"]) == (8, 0)
    assert [d["path"] for d in status["damaged"]] == [str(copy)]


# -- reports from the folder alone ----------------------------------------------------------------------
def test_report_from_the_results_folder_alone(tmp_path, capsys):
    data, results = tmp_path / "data", tmp_path / "r"
    fx.ljspeech(data)
    suite = _suite(tmp_path, LJSPEECH_SUITE, "lj")
    assert main(["run", "--suite", suite, "--profile", "smoke", "--data", str(data), "--results", str(results),
                 "--jobs", "1", "--backend", "sequential", "--no-progress", "--no-report"]) == 0
    store = ResultsStore(results)
    means = pd.Series([r["scores"]["si_sdr"] for r in store.records()])
    assert len(means) == 2
    one = store.path(next(iter(store.records()))["key"])
    (one.parent / f"{'f' * 32}.json").write_text(one.read_text())  # a copy must not count twice

    # The corpus is there: the profile comes from the records, nothing is missing.
    capsys.readouterr()
    assert main(["status", "--suite", suite, "--data", str(data), "--results", str(results), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["profile"], status["total"], status["done"], status["pending"]) == ("smoke", 2, 2, 0)

    # No corpus, no --profile: the two records, said so in one line; the table shows their mean.
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["report", "--suite", suite, "--data", str(empty), "--results", str(results),
                 "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert "showing the 2 records" in out.err and len(out.err.strip().splitlines()) == 1
    table = pd.read_csv(io.StringIO(out.out))
    assert list(table["n"]) == [2] and table["mean"][0] == pytest.approx(means.mean())
    assert "INCOMPLETE" not in out.out
    assert main(["status", "--suite", suite, "--data", str(empty), "--results", str(results), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["profile"], status["total"], status["done"]) == ("smoke", 2, 2)
    # --profile filters: the folder holds no paper-profile records of this suite.
    assert main(["status", "--suite", suite, "--data", str(empty), "--results", str(results),
                 "--profile", "paper", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0


def test_compare_from_the_results_folder_alone(tmp_path, capsys):
    data, results = tmp_path / "data", tmp_path / "r"
    fx.ljspeech(data)
    suite = _suite(tmp_path, LJSPEECH_SUITE + '[[methods]]\nname = "test-jitter"\n', "lj")
    assert main(["run", "--suite", suite, "--profile", "smoke", "--data", str(data), "--results", str(results),
                 "--jobs", "1", "--backend", "sequential", "--no-progress", "--no-report"]) == 0
    capsys.readouterr()
    empty = tmp_path / "nothing"
    empty.mkdir()
    code = main(["compare", "--suite", suite, "--candidate", "test-jitter", "--baseline", "identity",
                 "--data", str(empty), "--results", str(results), "--no-progress"])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert "0 to run" in out.err and "the 2 records of table lj alone" in out.err
    assert "si_sdr" in out.out


def test_a_shared_cell_is_found_by_the_suite_that_did_not_run_it(tmp_path, capsys):
    """Two suites with the same experiment: the record's labels name the first; the second still finds it."""
    data, results = tmp_path / "data", tmp_path / "r"
    fx.ljspeech(data)
    first = _suite(tmp_path, LJSPEECH_SUITE, "lj")
    second = _suite(tmp_path, LJSPEECH_SUITE.replace('name = "lj"', 'name = "other"')
                    .replace('label = "Noisy input"', 'label = "Input"'), "other")
    assert main(["run", "--suite", first, "--data", str(data), "--results", str(results), "--profile", "smoke",
                 "--jobs", "1", "--backend", "sequential", "--no-progress", "--no-report"]) == 0
    capsys.readouterr()
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["report", "--suite", second, "--data", str(empty), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "| Input " in out and "Noisy input" not in out


# -- claims ---------------------------------------------------------------------------------------------
def test_a_claim_excludes_others_until_released(tmp_path):
    with Claims(tmp_path) as first, Claims(tmp_path) as second:
        assert first.take("k") is None
        holder = second.take("k")
        assert holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname()
        assert second.holder("k") is not None
        second.release("k")  # not second's: must not remove first's claim
        assert second.take("k") is not None
        first.release("k")
        assert second.take("k") is None
    assert not list((tmp_path / "claims").glob("*.claim"))


@pytest.mark.parametrize("backend", ["sequential", "processes"])
def test_two_concurrent_runs_share_the_cells_and_compute_each_once(tmp_path, backend):
    suite, count = _counted(tmp_path, items=8, seconds=1.5)
    results = tmp_path / "r"
    runs = [_bench(*_run_args(suite, results, backend)) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    executions = _executions(count)
    assert len(executions) == 8 and len(set(executions)) == 8, executions
    assert len(list(ResultsStore(results).records())) == 8
    assert not list((results / "claims").glob("*.claim"))
    ran = sorted(int(err.split("ran ")[1].split(" cells")[0]) for _, err in outputs)
    assert sum(ran) == 8
    # Each run claims a cell only when it is about to run it, so the second run to start takes a share
    # instead of finding every cell claimed by the first and waiting.
    assert ran[0] >= 2, outputs
    # The runs overlapped (else this test proves nothing): one found cells the other held.
    assert any("being run by another bench run" in err for _, err in outputs), outputs


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant_claim(results, key, pid, heartbeat):
    path = results / "claims" / f"{key}.claim"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "token": "planted",
                                "heartbeat": heartbeat}))


def test_claims_of_dead_or_silent_holders_are_taken_over(tmp_path, capsys):
    suite, count = _counted(tmp_path, items=4)
    results = tmp_path / "r"
    from bench.cells import expand
    from bench.suite import load_suite

    keys = [c.key for c in expand(load_suite(suite), "paper")]
    _plant_claim(results, keys[0], _dead_pid(), time.time())  # a run killed with kill -9
    _plant_claim(results, keys[1], os.getpid(), time.time())  # alive, but its heartbeat stops now
    os.environ["BENCH_CLAIM_LEASE_S"] = "3"
    try:
        started = time.monotonic()
        assert main(_run_args(suite, results)) == 0
    finally:
        del os.environ["BENCH_CLAIM_LEASE_S"]
    err = capsys.readouterr().err
    assert f"1 cells are being run by another bench run (pid {os.getpid()}" in err
    assert time.monotonic() - started >= 2  # it waited for the silent holder's lease to run out
    assert sorted(_executions(count)) == sorted(set(_executions(count))) and len(_executions(count)) == 4
    assert len(list(ResultsStore(results).records())) == 4
    assert not list((results / "claims").glob("*.claim"))
