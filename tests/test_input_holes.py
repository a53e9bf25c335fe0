"""The last holes in input checking (issue 24): each bad input gets one line naming what is at fault and the
README's exit code (2 usage or configuration, 3 environment), before anything runs or is written."""
import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_bad_inputs import error_line

from bench.cli import main
from bench.core.files import CannotWrite, write_json, write_with
from bench.core.progress import progress_bar
from bench.running.devices import visible_gpus

SUITE = """
name = "{name}"
items = 1
seeds = [0]
seconds = 0.05
sample_rate = 8000
metrics = ["snr"]
{extra}
[[methods]]
name = "identity"
label = "Input"
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = {{ std = 0.1 }}
"""


def suite_file(folder: Path, name: str = "holes", extra: str = "", text: str | None = None) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text if text is not None else SUITE.format(name=name, extra=extra))
    return path


def bench_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``bench ARGS`` in a fresh interpreter: what a suite folder holds is read when bench starts."""
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


# -- selection flags ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, named", [
    (["-m", "identity["], "-m 'identity['"),
    (["-m", "identity]"], "-m 'identity]'"),
    (["-d", "x["], "-d 'x['"),
    (["--add-method", "x[k=1"], "--add-method 'x[k=1'"),
])
def test_unbalanced_brackets_are_an_error_not_the_whole_suite(tmp_path, capsys, flags, named):
    results = tmp_path / "results"
    assert main(["run", "--suite", str(suite_file(tmp_path)), "--results", str(results), *flags,
                 "--backend", "sequential", "--no-progress", "--no-report"]) == 2
    err = error_line(capsys)
    assert named in err and "unbalanced brackets" in err
    assert not list(results.rglob("*.json"))


# -- suite files ----------------------------------------------------------------------------------------
def test_a_broken_suite_file_in_the_suite_path_fails_only_the_commands_that_need_it(tmp_path):
    folder = tmp_path / "suites"
    folder.mkdir()
    suite_file(folder, "fine")
    suite_file(folder, "broken", text='name = "broken\n')  # unterminated string
    suite_file(folder, "twin-a", text=SUITE.format(name="twin", extra=""))
    suite_file(folder, "twin-b", text=SUITE.format(name="twin", extra=""))
    env = {"BENCH_SUITE_PATH": str(folder)}
    assert bench_process("--help", env=env).returncode == 0
    listed = bench_process("list", "suites", env=env)
    assert listed.returncode == 0 and "fine" in listed.stdout
    fine = bench_process("run", "--suite", "fine", "--dry-run", "--results", str(tmp_path / "r"), env=env)
    assert fine.returncode == 0, fine.stderr
    broken = bench_process("run", "--suite", "broken", "--dry-run", env=env)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1, broken.stderr
    assert f"{folder / 'broken.toml'}: not a valid TOML file" in broken.stderr
    twin = bench_process("status", "--suite", "twin", env=env)
    assert twin.returncode == 2 and twin.stderr.count("\n") == 1, twin.stderr
    assert "declared twice" in twin.stderr and "twin-a.toml" in twin.stderr and "twin-b.toml" in twin.stderr


def test_suites_that_include_each_other_are_an_error_naming_the_circle(tmp_path, capsys):
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.write_text(f'name = "one"\ninclude = ["{two}"]\n')
    two.write_text(f'name = "two"\ninclude = ["{one}"]\n')
    itself = tmp_path / "itself.toml"
    itself.write_text(f'name = "itself"\ninclude = ["{itself}"]\n')
    assert main(["run", "--suite", str(one), "--dry-run"]) == 2
    assert "circle: one -> two -> one" in error_line(capsys)
    assert main(["run", "--suite", str(itself), "--dry-run"]) == 2
    assert "circle: itself -> itself" in error_line(capsys)


def test_a_suite_included_twice_without_a_circle_is_no_error(tmp_path, capsys):
    leaf = suite_file(tmp_path, "leaf")
    left, right = tmp_path / "left.toml", tmp_path / "right.toml"
    left.write_text(f'name = "left"\ninclude = ["{leaf}"]\n')
    right.write_text(f'name = "right"\ninclude = ["{leaf}"]\n')
    top = tmp_path / "top.toml"
    top.write_text(f'name = "top"\ninclude = ["{left}", "{right}"]\n')
    assert main(["run", "--suite", str(top), "--dry-run", "--results", str(tmp_path / "r")]) == 0


# -- devices, plugins, outputs --------------------------------------------------------------------------
@pytest.mark.parametrize("devices, said", [("banana", "'banana' is not a device"),
                                           ("cpu,cuda:7", "no cuda:7"), ("cuda:x", "'cuda:x' is not a device")])
def test_a_device_that_is_not_there_stops_the_run_before_any_cell(tmp_path, capsys, devices, said):
    if "cuda:7" in visible_gpus():
        pytest.skip("this machine has a cuda:7")
    results = tmp_path / "results"
    assert main(["run", "--suite", str(suite_file(tmp_path)), "--results", str(results), "--devices", devices,
                 "--backend", "sequential", "--no-progress", "--no-report"]) == 2
    err = error_line(capsys)
    assert f"--devices {devices}" in err and said in err
    assert not list(results.rglob("*.json"))  # no record stamped with a device it did not run on


def test_a_plugin_module_that_does_not_exist_is_named(tmp_path):
    done = bench_process("run", "--suite", str(suite_file(tmp_path)), "--dry-run",
                         env={"BENCH_PLUGINS": "bench_test_plugins,no_such_bench_plugin"})
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "$BENCH_PLUGINS names 'no_such_bench_plugin': no such module" in done.stderr


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "in.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(8000), 8000, subtype="FLOAT")
    return path


@pytest.mark.parametrize("where", ["under-a-file", "/proc"])
def test_corrupt_to_a_path_that_cannot_be_written_is_an_environment_error_naming_it(tmp_path, capsys, wav, where):
    if where == "/proc":
        if not Path("/proc/self").exists():
            pytest.skip("no /proc here")
        output = Path("/proc/bench-test-output.wav")  # not even root may create a file there
    else:
        (tmp_path / "a-file").write_text("")
        output = tmp_path / "a-file" / "out.wav"
    assert main(["corrupt", str(wav), "--corruption", "gaussian-noise[std=0.1]", "-o", str(output)]) == 3
    err = error_line(capsys)
    assert err.startswith(f"bench: error: {output}: cannot write")


def test_corrupt_to_a_name_that_is_no_audio_format_is_a_usage_error(tmp_path, capsys, wav):
    output = tmp_path / "out.nope"
    assert main(["corrupt", str(wav), "--corruption", "gaussian-noise[std=0.1]", "-o", str(output)]) == 2
    assert f"{output}: not an audio file name" in error_line(capsys)
    assert not output.exists()


# -- range checks before the run ------------------------------------------------------------------------
@pytest.mark.parametrize("change, named", [
    (("items = 1", "items = 1000000000000"), "items must be a whole number from 1 to 1,000,000"),
    (("items = 1", "items = 0"), "items must be"),
    (("sample_rate = 8000", "sample_rate = -16000"), "sample_rate must be"),
    (("seconds = 0.05", "seconds = 0"), "seconds (the clip length) must be"),
    (("seeds = [0]", "seeds = [0, -1, 1.5]"), "seeds must be"),
    (("seeds = [0]", "seeds = [1, 1]"), "seeds must be"),
    (("seeds = [0]", "seeds = 0"), "seeds = N must be"),
    (("std = 0.1", "std = -1"), "[[corruptions]] 'gaussian-noise': params: parameter 'std' must be at least 0"),
    (('name = "identity"', 'name = "wave-unet"\nparams = { levels = 1000 }'),
     "'wave-unet' (Input): params: parameter 'levels' must be between 1 and 16, not 1000"),
    (('metrics = ["snr"]', 'metrics = ["snr"]\n[profiles.smoke]\nseconds = -1'), "[profiles.smoke]: seconds"),
])
def test_out_of_range_settings_and_parameters_fail_before_the_run_naming_file_and_key(tmp_path, capsys, change, named):
    path = suite_file(tmp_path)
    old, new = change
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    results = tmp_path / "results"
    assert main(["run", "--suite", str(path), "--results", str(results), "--backend", "sequential",
                 "--no-progress", "--no-report"]) == 2
    err = error_line(capsys)
    assert f"{path}: " in err and named in err, err
    assert not results.exists()


# -- reports, progress, full disks ----------------------------------------------------------------------
def test_report_of_a_results_folder_that_does_not_exist_is_an_error(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["report", "--suite", str(suite_file(tmp_path)), "--results", str(missing)]) == 2
    assert f"--results {missing}: no such folder" in error_line(capsys)


def test_timed_out_cells_are_reported_as_timeout_not_failed(tmp_path, capsys):
    path = suite_file(tmp_path, extra="[protocol]\niterations = 20")
    path.write_text(path.read_text().replace('name = "identity"', 'name = "test-slow"\nparams = { seconds = 0.1 }'))
    results = tmp_path / "results"
    assert main(["run", "--suite", str(path), "--results", str(results), "--backend", "sequential",
                 "--timeout", "0.3", "--no-progress", "--no-report"]) == 1
    err = capsys.readouterr().err
    assert ": timeout: cell passed its time limit" in err and "failed" not in err.split("ran ")[0]
    assert main(["report", "--suite", str(path), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE: 0 failed, 1 timeout and 0 missing of 1 cells" in out
    assert "| Input | — (1 timeout) |" in out  # the row stays, with what became of its cell


def test_the_progress_display_writes_plain_lines_off_a_terminal():
    log = io.StringIO()  # not a terminal
    bar = progress_bar(500, "cell", stream=log)
    for i in range(500):
        bar.update(1)
        bar.set_postfix_str(f"ok {i + 1}")
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and 1 <= len(lines) <= 2, lines  # the first count, the last at close
    assert lines[-1].startswith("500/500 cells [") and lines[-1].endswith("ok 500")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = progress_bar(5, "cell", stream=screen)
    for _ in range(5):
        bar.update(1)
    bar.close()
    assert "\r" in screen.getvalue()  # on a terminal the bar redraws in place


def test_a_run_whose_stderr_is_a_log_gets_no_carriage_returns(tmp_path, capsys):
    assert main(["run", "--suite", str(suite_file(tmp_path)), "--results", str(tmp_path / "r"),
                 "--backend", "sequential", "--no-report"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "1/1 cells" in err


def test_a_full_disk_names_the_file_and_leaves_the_old_one(tmp_path):
    target = tmp_path / "record.json"
    write_json(target, {"old": True})

    def full(f):
        f.write(b"{\"new\": ")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CannotWrite) as caught:
        write_with(target, full)
    assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert "No space left on device" in caught.value.strerror
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]  # no temporary file left behind


def test_a_full_disk_while_writing_a_record_is_exit_3_naming_the_record(tmp_path, capsys, monkeypatch):
    import bench.core.files

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bench.core.files.os, "fsync", no_space)  # records are flushed to the disk: that fails
    results = tmp_path / "results"
    assert main(["run", "--suite", str(suite_file(tmp_path)), "--results", str(results), "--backend", "sequential",
                 "--no-progress", "--no-report"]) == 3
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"bench: error: {results / 'cells'}") and err.endswith(".json: cannot write (No space left "
                                                                                 "on device)")
