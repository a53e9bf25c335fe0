"""Process hygiene with real processes: no worker outlives `bench run` (kill -9, SIGTERM), a method that
kills or hangs its worker fails only its cells under every --jobs, exit codes a script can rely on,
results folders that cannot take records, and 1-based shards."""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from bench.planning.cells import expand
from bench.planning.suite import load_suite
from bench.records.store import ResultsStore
from bench.running.scheduler import parse_shard, shard

SUITE = """
name = "proc"
items = {items}
seeds = [0]
seconds = 0.1
metrics = ["si_sdr"]
[protocol]
iterations = {iterations}
[[methods]]
name = "{method}"
params = {params}
[[methods]]
name = "identity"
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = {{ std = 0.1 }}
"""


def _suite(tmp_path, method="test-noop", params="{}", items=3, iterations=4):
    path = tmp_path / "proc.toml"
    path.write_text(SUITE.format(method=method, params=params, items=items, iterations=iterations))
    return str(path)


def _bench(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True,
                          timeout=300, **kwargs)


def _records_by_method(results):
    out = {}
    for record in ResultsStore(results).records():
        out.setdefault(record["config"]["method"]["name"], []).append(record)
    return out


def _alive(pids):
    """The processes among ``pids`` still running (a zombie waiting to be reaped has ended)."""
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


KILL_SUITE = """
name = "kill"
items = 3
seeds = [0]
seconds = 0.1
metrics = ["si_sdr"]
[protocol]
iterations = 60
[[methods]]
name = "identity"
[[methods]]
name = "test-slow"
params = { seconds = 0.5 }
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_run_leaves_no_worker_alive(tmp_path, sig):
    suite = tmp_path / "kill.toml"
    suite.write_text(KILL_SUITE)
    results = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "run", "--suite", str(suite), "--results",
                             str(results), "--jobs", "2", "--no-progress", "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    store = ResultsStore(results)
    deadline = time.monotonic() + 120
    # the identity cells finish at once; then both workers are in 30-s slow cells, which would outlive
    # the parent by far if nothing stopped them
    while time.monotonic() < deadline and len(list(store.cells_dir.glob("*/*.json"))) < 3:
        time.sleep(0.05)
    time.sleep(1.0)
    descendants = [p.pid for p in parent.children(recursive=True)]
    assert len(descendants) >= 2, "the run's workers were not found"
    os.kill(proc.pid, sig)  # only the parent: its workers must follow by themselves
    proc.wait(timeout=30)
    give_up = time.monotonic() + 5
    while _alive(descendants) and time.monotonic() < give_up:
        time.sleep(0.05)
    assert not _alive(descendants), f"workers outlived the run: {_alive(descendants)}"
    kept = [r["config"]["method"]["name"] for r in store.records()]
    assert kept == ["identity"] * 3  # finished cells are kept; the slow ones in flight have no record
    if sig == signal.SIGTERM:
        assert proc.returncode == 130
        assert "finished cells are saved" in proc.stderr.read()


@pytest.mark.parametrize("how,reason,jobs", [("segfault", "killed by signal 11 (SIGSEGV)", "1"),
                                             ("segfault", "killed by signal 11 (SIGSEGV)", "2"),
                                             ("exit", "exited with code 3", "1")])
def test_a_method_that_kills_its_worker_fails_only_its_cells(tmp_path, jobs, how, reason):
    suite = _suite(tmp_path, "test-dies", f'{{ how = "{how}" }}', items=2)
    results = tmp_path / "r"
    done = _bench("run", "--suite", suite, "--results", str(results), "--jobs", jobs, "--no-progress",
                  "--no-report")
    assert done.returncode == 1, done.stderr
    by_method = _records_by_method(results)
    assert len(by_method["test-dies"]) == 2 and len(by_method["identity"]) == 2
    assert all(r["status"] == "failed" and reason in r["error"] for r in by_method["test-dies"])
    if how == "segfault":  # what an upstream report needs: method, configuration, versions, CPU flags
        facts = ("in test-dies (how='segfault'; precision not a fitted prior)", "torch ", "oneDNN ", "avx512_bf16 ",
                 "amx_bf16 ", "avx2 ")
        assert all(fact in r["error"].splitlines()[0] for r in by_method["test-dies"] for fact in facts)
        assert all(fact in done.stderr for fact in facts)  # the run's summary
    assert all(r["status"] == "ok" for r in by_method["identity"])  # cells after the crash still ran
    assert reason in done.stderr


def test_a_silent_hang_is_stopped_by_the_timeout(tmp_path):
    suite = _suite(tmp_path, "test-dies", '{ how = "hang" }', items=2)
    results = tmp_path / "r"
    done = _bench("run", "--suite", suite, "--results", str(results), "--jobs", "1", "--timeout", "1",
                  "--no-progress", "--no-report")
    assert done.returncode == 1, done.stderr
    by_method = _records_by_method(results)
    assert [r["status"] for r in by_method["test-dies"]] == ["timeout", "timeout"]
    assert all("time limit" in r["error"] for r in by_method["test-dies"])
    assert all(r["status"] == "ok" for r in by_method["identity"])  # the run ended (_bench has a time limit)


def test_a_method_that_reports_times_out_cleanly_before_the_hard_limit(tmp_path):
    suite = _suite(tmp_path, "test-slow", "{ seconds = 0.3 }", items=1, iterations=50)
    results = tmp_path / "r"
    done = _bench("run", "--suite", suite, "--results", str(results), "--jobs", "1", "--timeout", "1",
                  "--no-progress", "--no-report")
    assert done.returncode == 1, done.stderr
    (record,) = _records_by_method(results)["test-slow"]
    # the method's own check at a progress report stops it: its record keeps the iteration it reached
    assert record["status"] == "timeout" and "at iteration" in record["error"]


def test_exit_codes(tmp_path):
    results = tmp_path / "r"
    assert _bench("run", "--suite", _suite(tmp_path), "--results", str(results), "--no-report").returncode == 0

    failing = _bench("run", "--suite", _suite(tmp_path, "test-raises"), "--results", str(results),
                     "--no-report")
    assert failing.returncode == 1

    usage = _bench("run", "--suite", str(tmp_path / "no-such.toml"), "--results", str(results))
    assert usage.returncode == 2 and "no-such.toml" in usage.stderr

    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for target in (a_file, a_file / "below"):
        env_error = _bench("run", "--suite", _suite(tmp_path), "--results", str(target))
        assert env_error.returncode == 3, env_error.stderr
        lines = env_error.stderr.strip().splitlines()
        assert len(lines) == 1 and str(target) in lines[0] and "Traceback" not in env_error.stderr
    assert a_file.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_results_folder_is_an_environment_error(tmp_path):
    results = tmp_path / "r"
    results.mkdir()
    results.chmod(0o555)
    try:
        done = _bench("run", "--suite", _suite(tmp_path), "--results", str(results))
    finally:
        results.chmod(0o755)
    assert done.returncode == 3 and "not writable" in done.stderr and str(results) in done.stderr


def test_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    suite = _suite(tmp_path)
    bad = _bench("run", "--suite", suite, "--results", str(tmp_path / "r"), "--shard", "0/2")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "count from 1" in bad.stderr
    debug = _bench("--debug", "run", "--suite", suite, "--results", str(tmp_path / "r"), "--shard", "0/2")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "count from 1" in debug.stderr

    # a plugin with a bug: an exception nobody expects is still one line, exit 4
    (tmp_path / "buggy_plugin.py").write_text("raise RuntimeError('a bug in my plugin')\n")
    env = {**os.environ, "BENCH_PLUGINS": "buggy_plugin",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    quiet = _bench("run", "--suite", suite, "--results", str(tmp_path / "r"), env=env)
    assert quiet.returncode == 4, quiet.stderr
    assert quiet.stderr.count("\n") == 1 and "RuntimeError: a bug in my plugin" in quiet.stderr
    loud = _bench("--debug", "run", "--suite", suite, "--results", str(tmp_path / "r"), env=env)
    assert loud.returncode == 4 and "Traceback" in loud.stderr and "buggy_plugin.py" in loud.stderr


def test_shards_count_from_one_and_partition_the_cells():
    cells = expand(load_suite("smoke"))
    parts = [shard(cells, parse_shard(f"{i}/2")) for i in (1, 2)]
    keys = [c.key for part in parts for c in part]
    assert sorted(keys) == sorted(c.key for c in cells) and len(keys) == len(set(keys))
    assert all(parts)
    for wrong in ("0/2", "3/2", "1/0", "a/b"):
        with pytest.raises(ValueError):
            parse_shard(wrong)
    with pytest.raises(ValueError, match="count from 1"):
        parse_shard("0/2")
    slurm = {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"}
    assert parse_shard("slurm", slurm) == parse_shard("2/2")
    assert parse_shard("slurm", {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0",
                                 "SLURM_ARRAY_TASK_MAX": "3"}) == parse_shard("1/4")
    with pytest.raises(ValueError, match="SLURM_ARRAY_TASK_ID"):
        parse_shard("slurm", {})
