"""Records that stand alone: the schema, damaged records, claims between concurrent runs, reports from the
results folder without corpora or flags."""
import io
import json
import os
import re
import socket
import subprocess
import sys
import time

import corpus_fixtures as fx
import pandas as pd
import pytest
from conftest import write_suite

from bench.cli import main
from bench.records.record import RECORD_FORMAT, RecordError, check
from bench.records.store import ResultsStore
from bench.running.leases import Claims

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
SMALL = {"name": "small", "items": 1, "seeds": [0], "seconds": 0.1, "sample_rate": 8000, "metrics": ["si_sdr"],
         "timeout_s": 60,
         "methods": [{"name": "identity"}, {"name": "test-raises"}, {"name": "test-crash"},
                     {"name": "test-trained-denoiser"}],
         "datasets": [{"name": "test-tone"}], "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}],
         "training": {"epochs": 1}}


def _small_cells(seeds=(0,)) -> dict[str, list]:
    from bench.planning.cells import expand
    from bench.planning.suite import parse_suite

    cells = {}
    for cell in expand(parse_suite({**SMALL, "seeds": list(seeds)})):
        cells.setdefault(cell.method["name"], []).append(cell)
    return cells


def _stored(tmp_path, record) -> dict:
    """``record`` as the store writes it and reads it back: both validate it against the shipped schema."""
    store = ResultsStore(tmp_path / "schema")
    store.write(record)
    back = store.read(record["key"])
    assert back is not None, "written, then read back as damaged"
    return back


def test_write_stamps_and_validates(tmp_path):
    store = ResultsStore(tmp_path)
    config = {"method": {"name": "identity"}, "dataset": {"name": "test-tone"}, "corruption": {"name": "x"},
              "item": "0001", "seed": 0}
    store.write({"key": "ab" * 16, "config": config, "labels": {}, "status": "ok", "synthetic": True})
    record = store.read("ab" * 16)
    assert record["format"] == RECORD_FORMAT and record["synthetic"] is True
    with pytest.raises(RecordError, match="no 'synthetic' field"):  # decided at expansion, not guessed here
        store.write({"key": "ef" * 16, "config": config, "labels": {}, "status": "ok"})
    with pytest.raises(RecordError, match="unknown status 'done'"):
        store.write({"key": "cd" * 16, "config": config, "labels": {}, "status": "done", "synthetic": True})
    assert not store.path("cd" * 16).exists() and not store.path("ef" * 16).exists()
    with pytest.raises(RecordError, match="'seed'"):
        check({**record, "config": {**config, "seed": "0"}})
    # Records already in results folders still read: of format 0 (synthetic learnt from the dataset), and of
    # format 1 with the time limit among the labels, as they were written before run_options.
    old = store.path("01" * 16)
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"key": "01" * 16, "config": config, "labels": {"timeout_s": 5}, "status": "ok"}))
    assert store.read("01" * 16)["synthetic"] is True  # test-tone is generated
    old.write_text(json.dumps({**record, "key": "01" * 16, "labels": {"suite": "s", "timeout_s": 5}}))
    assert store.read("01" * 16) is not None


def test_the_schema_refuses_unknown_fields_and_wrong_types(tmp_path):
    from bench.records.record import lost, of_cell

    cell = _small_cells()["identity"][0]
    good = json.loads(json.dumps(lost(cell, "cpu", "failed", "why")))
    assert check(dict(good)) == good
    precision = {"requested": "bf16", "ran": "float32", "compiled": False,
                 "refused": [{"candidate": "bf16", "reason": "no bf16 on this CPU"}]}
    assert check({**good, "precision": precision})["precision"] == precision  # reserved, and typed
    refused = {"colour": ("red", "unknown field 'colour'"),
               "wall_time_s": ("fast", "'wall_time_s' is string, not number or null"),
               "batch_size": (1.5, "'batch_size' is number"),
               "metric_errors": ({"pesq": 3}, "'metric_errors.pesq' is integer, not string"),
               "scores": ({"si_sdr": "high"}, "'scores.si_sdr' is string"),
               "run_options": ({"timeout_s": 5, "retries": 2}, "unknown field 'run_options.retries'"),
               "synthetic": ("yes", "'synthetic' is string, not boolean"),
               "precision": ({**precision, "compiled": "no"}, "'precision.compiled' is string, not boolean")}
    for name, (value, reason) in refused.items():
        with pytest.raises(RecordError, match=re.escape(reason)):
            check({**good, name: value})
    with pytest.raises(RecordError, match="unknown field 'precision.bits'"):
        check({**good, "precision": {**precision, "bits": 16}})
    # An unknown field on disk makes the record damaged (its cell runs again), and none can be built.
    path = ResultsStore(tmp_path).path(good["key"])
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**good, "colour": "red"}))
    assert ResultsStore(tmp_path).read(good["key"]) is None
    with pytest.raises(TypeError, match="colour"):
        of_cell(cell, status="ok", device="cpu", colour="red")


def test_an_ok_cell_gives_a_valid_record_with_its_run_options_apart(tmp_path):
    from bench.running.worker import run_cells

    [record] = run_cells(_small_cells()["identity"])
    assert record["status"] == "ok", record["error"]
    stored = _stored(tmp_path, record)
    # the fields the schema once left out are there, and now listed (unknown fields are refused)
    for name in ("corruption_info", "estimate_info", "peak_rss_mb", "peak_cuda_mb", "batch_size"):
        assert name in stored
    assert "timeout_s" not in stored["labels"] and stored["run_options"] == {"timeout_s": 60}
    assert stored["synthetic"] is True and stored["labels"]["suite"] == "small"


def test_a_failed_cell_gives_a_valid_record(tmp_path):
    from bench.running.worker import run_cells

    [record] = run_cells(_small_cells()["test-raises"])
    stored = _stored(tmp_path, record)
    assert stored["status"] == "failed" and "deliberate failure" in stored["error"]
    assert "scores" not in stored and "timeout_s" not in stored["labels"]


def test_a_lost_worker_gives_a_valid_record(tmp_path):
    from bench.running.scheduler import run

    crashing = [c for c in _small_cells(seeds=range(6))["test-crash"] if c.method_seed % 3 == 0][:1]
    assert crashing
    store = ResultsStore(tmp_path / "r")
    assert run(crashing, store, backend="processes", jobs=1, progress=False).failed == 1
    record = store.read(crashing[0].key)  # read back: validated
    assert record["status"] == "failed" and "worker process died" in record["error"]
    assert record["device"] == "cpu" and record["run_options"] == {"timeout_s": 60}


def test_a_failed_training_gives_valid_records_for_its_cells(tmp_path):
    from bench.running.train_stage import untrained_records

    trained = _small_cells()["test-trained-denoiser"]
    job = trained[0].training
    [record] = untrained_records(trained, {job.key: {"state": "failed", "error": "loss is NaN\ntraceback"}})
    stored = _stored(tmp_path, record)
    assert stored["status"] == "failed" and stored["device"] is None
    assert stored["error"] == f"training job {job.key} failed: loss is NaN"


def test_a_failed_submitit_job_gives_valid_records(tmp_path):
    from bench.records.record import lost
    from bench.running.submitit_backend import _records_of

    class FailedJob:  # what submitit hands back for an array task SLURM stopped
        job_id, state = "123_0", "TIMEOUT"

        def exception(self):
            return RuntimeError("DUE TO TIME LIMIT")

    cells = _small_cells()["identity"]
    [record] = _records_of(FailedJob(), cells, "cpu", lost)
    stored = _stored(tmp_path, record)
    assert stored["status"] == "timeout" and "submitit job 123_0 timeout: DUE TO TIME LIMIT" in stored["error"]


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
    from bench.planning.cells import expand
    from bench.planning.suite import load_suite

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
