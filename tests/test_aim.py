"""Aiming runs: selection flags, several suites, --add-method rows, JSON outputs, the listing without imports, fit
progress shown by the parent, and the README's example prior run through --add-method."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_suite

from bench.cli import main
from bench.components.fitting import Ensemble, Schedule, fit

README = Path(__file__).parents[1] / "README.md"

TWO_WIENERS = """
name = "aim-t"
items = 3
seconds = 0.25
metrics = ["si_sdr"]
[protocol]
iterations = 1
[[methods]]
name = "identity"
label = "Input"
[[methods]]
name = "spectral-wiener"
label = "Wiener 512"
[[methods]]
name = "spectral-wiener"
label = "Wiener 256"
params = { n_fft = 256 }
[[datasets]]
name = "synthetic-speech"
label = "Speech"
[[datasets]]
name = "synthetic-piano"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.05 }
"""


def status(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["status", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def dry_rows(capsys, *args) -> list[tuple[str, str, str]]:
    """(table, method, dataset) of each line of the dry-run grid."""
    capsys.readouterr()
    assert main(["run", *args, "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    grid = out[2:next(i for i, line in enumerate(out) if line.startswith("protocol per method"))]
    return [tuple(re.split(r"\s{2,}", line.strip())[:3]) for line in grid]


def test_selection_by_name_label_parameters_and_limit(tmp_path, capsys):
    suite = str(write_suite(tmp_path, TWO_WIENERS))
    base = ["--suite", suite, "--results", str(tmp_path / "r")]
    assert status(capsys, *base)["total"] == 3 * 2 * 3
    assert status(capsys, *base, "-m", "identity")["total"] == 2 * 3
    # by label, repeatable and comma lists; -d by name and by label
    rows = dry_rows(capsys, *base, "-m", "Input,Wiener 256", "-d", "Speech")
    assert sorted({r[1] for r in rows}) == ["Input", "Wiener 256"] and {r[2] for r in rows} == {"Speech"}
    rows = dry_rows(capsys, *base, "-m", "identity", "-m", "Wiener 512", "-d", "synthetic-piano")
    assert sorted({r[1] for r in rows}) == ["Input", "Wiener 512"] and {r[2] for r in rows} == {"synthetic-piano"}
    # a label with a comma is one label when given whole; other values are still comma lists
    commas = str(write_suite(tmp_path, TWO_WIENERS.replace("Wiener 256", "Wiener, 256 bins"), "commas"))
    rows = dry_rows(capsys, "--suite", commas, "--results", str(tmp_path / "r"), "-m", "Wiener, 256 bins")
    assert {r[1] for r in rows} == {"Wiener, 256 bins"}
    rows = dry_rows(capsys, "--suite", commas, "--results", str(tmp_path / "r"), "-m", "Input,Wiener 512")
    assert sorted({r[1] for r in rows}) == ["Input", "Wiener 512"]
    # NAME[k=v]: the rows with those parameters only
    rows = dry_rows(capsys, *base, "-m", "spectral-wiener[n_fft=256]")
    assert {r[1] for r in rows} == {"Wiener 256"}
    # --limit keeps the first N of the suite's own items: the same cells (keys) as the full run
    from bench.planning.cells import expand
    from bench.planning.suite import load_suite

    full = {c.key for c in expand(load_suite(suite))}
    limited = status(capsys, *base, "--limit", "2")
    assert limited["total"] == 3 * 2 * 2
    from bench.planning.selection import Selection, aim, limit_items

    kept = limit_items(expand(aim(load_suite(suite), Selection())), 2)
    assert {c.key for c in kept} <= full and len({(c.labels["dataset"], c.config["item"]) for c in kept}) == 4


def test_unknown_selection_is_an_error_listing_what_the_suite_has(tmp_path, capsys):
    suite = str(write_suite(tmp_path, TWO_WIENERS))
    for flag, value, listed in (("-m", "wiener", "spectral-wiener (Wiener 256)"), ("-d", "ljspeech", "Speech"),
                                ("-c", "reverb", "gaussian-noise"),
                                ("-m", "spectral-wiener[n_fft=128]", "identity (Input)")):
        capsys.readouterr()
        assert main(["status", "--suite", suite, flag, value, "--results", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and value in err and listed in err, err
    assert main(["run", "--suite", suite, "--limit", "0", "--dry-run"]) == 2


def test_several_suites_at_once(tmp_path, capsys):
    one = str(write_suite(tmp_path, TWO_WIENERS))
    other = str(write_suite(tmp_path, TWO_WIENERS.replace('"aim-t"', '"aim-u"').replace("items = 3", "items = 1").replace("0.25", "0.5"),
                            name="u"))
    both = status(capsys, "--suite", f"{one},{other}", "--results", str(tmp_path / "r"))
    assert both["total"] == 18 + 6
    rows = dry_rows(capsys, "--suite", f"{one},{other}", "-m", "identity")
    assert {r[0] for r in rows} == {"aim-t", "aim-u"}


def test_added_method_is_a_row_of_the_report_and_the_compare_candidate(tmp_path, capsys):
    suite = str(write_suite(tmp_path, TWO_WIENERS))
    args = ["--suite", suite, "--results", str(tmp_path / "r"), "-m", "identity", "--limit", "1",
            "--add-method", "spectral-wiener[n_fft=128]"]
    assert main(["run", *args, "--no-progress", "--no-report", "--jobs", "1", "--backend", "sequential",
                 "--devices", "cpu"]) == 0
    capsys.readouterr()
    assert main(["report", *args, "--format", "json"]) == 0
    tables = json.loads(capsys.readouterr().out)["tables"]
    assert [r for r in tables[0]["rows"]] == [["Input"], ["spectral-wiener[n_fft=128]"]]
    cells = [c for c in tables[0]["cells"] if c["row"] == ["spectral-wiener[n_fft=128]"]]
    assert cells and all(c["n"] == 1 and isinstance(c["mean"], float) for c in cells)
    assert {tuple(c["column"]) for c in cells} == {("Speech", "si_sdr"), ("synthetic-piano", "si_sdr")}
    # compare takes the added row as its candidate: its cells are already there, nothing runs again
    capsys.readouterr()
    code = main(["compare", "--suite", suite, "--results", str(tmp_path / "r"), "--limit", "1", "--candidate",
                 "spectral-wiener[n_fft=128]", "--baseline", "identity", "--no-progress", "--backend", "sequential",
                 "--jobs", "1", "--devices", "cpu"])
    assert code in (0, 1)
    assert "0 to run" in capsys.readouterr().err


def test_report_json_carries_references(tmp_path, capsys):
    text = TWO_WIENERS + '[[references]]\nmethod = "Input"\ndataset = "Speech"\nmetric = "si_sdr"\nmean = 4.5\n'
    suite = str(write_suite(tmp_path, text))
    args = ["--suite", suite, "--results", str(tmp_path / "r"), "-m", "identity", "--limit", "1"]
    assert main(["run", *args, "--no-progress", "--no-report", "--backend", "sequential", "--jobs", "1",
                 "--devices", "cpu"]) == 0
    capsys.readouterr()
    assert main(["report", *args, "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)["tables"][0]
    cell = next(c for c in table["cells"] if c["column"] == ["Speech", "si_sdr"])
    assert cell["reference"] == {"mean": 4.5}
    assert cell["difference"] == pytest.approx(cell["mean"] - 4.5)
    assert table["row_fields"] == ["method"] and table["statistic"] == "mean"


IMPLEMENTATION_PACKAGES = ("bench.methods.", "bench.datasets.", "bench.metrics.", "bench.corruptions.")


def test_list_json_and_list_without_torch():
    """`bench list` reads the registrations from source: no torch, no implementation module, from the first
    call on (there is no index to fill)."""
    probe = ("import sys, json; from bench.cli import main; main(sys.argv[1:]); "
             "print(json.dumps(sorted(m for m in sys.modules if m in ('torch', 'scipy', 'museval', "
             f"'pyroomacoustics', 'matplotlib') or m.startswith({IMPLEMENTATION_PACKAGES!r}))), file=sys.stderr)")

    def listed(*args):
        done = subprocess.run([sys.executable, "-c", probe, "list", *args], capture_output=True,
                              text=True, check=True)
        return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])

    out, imported = listed("suites", "--json")
    assert imported == [] and "smoke" in [s["name"] for s in json.loads(out)["suites"]]
    out, imported = listed("--json")
    assert imported == []
    listed_all = json.loads(out)
    methods = {m["name"]: m for m in listed_all["methods"]}
    assert methods["identity"]["version"] == "1" and methods["test-iterative"]["description"]
    assert methods["sinusoidal-dae"]["description"].startswith("Mimilakis et al. (2020)")
    assert {"si_sdr_i", "psnr_i", "bss_v4"} <= {m["name"] for m in listed_all["metrics"]}
    assert {"reverb", "gaussian-noise"} <= {c["name"] for c in listed_all["corruptions"]}
    assert {"vctk", "synthetic-speech"} <= {d["name"] for d in listed_all["datasets"]}


def test_list_follows_a_changed_plugin(tmp_path):
    plugin = tmp_path / "aim_plugin.py"
    plugin.write_text('from bench import Method, method\n\n@method("aim-x", version="1")\n'
                      'class X(Method):\n    """First."""\n    tasks = ("denoising",)\n')
    env = {**os.environ, "BENCH_PLUGINS": "aim_plugin",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}

    def methods():
        out = subprocess.run([sys.executable, "-m", "bench.cli", "list", "methods", "--json"], env=env,
                             capture_output=True, text=True, check=True).stdout
        return {m["name"]: m for m in json.loads(out)["methods"]}

    assert methods()["aim-x"]["version"] == "1"
    plugin.write_text(plugin.read_text().replace('version="1"', 'version="2"').replace("First.", "Second."))
    assert methods()["aim-x"] == {"name": "aim-x", "version": "2", "description": "Second."}


def test_fit_reports_increasing_iterations_and_a_loss():
    seen = []
    model = Ensemble(lambda: torch.nn.Conv1d(1, 1, 3, padding=1), [0, 1])
    inputs = torch.randn(2, 1, 64)
    target = torch.randn(2, 1, 64)
    fit(model, inputs, lambda out, step: (out - target).pow(2).mean(dim=(1, 2)), Schedule(iterations=50, lr=1e-2),
        progress=lambda i, total, loss: seen.append((i, total, loss())))
    assert [s[0] for s in seen] == list(range(1, 51)) and {s[1] for s in seen} == {50}
    assert seen[-1][2] < seen[0][2] and all(isinstance(s[2], float) for s in seen)


def test_fit_progress_reaches_the_parent_display_from_a_worker_process(tmp_path):
    """A real run with worker processes: the progress bar on stderr shows a fit's iteration and loss."""
    suite = write_suite(tmp_path, TWO_WIENERS.replace("iterations = 1", "iterations = 3000") + """
[[methods]]
name = "test-slow-fit"
""")
    done = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--suite", str(suite), "-m", "test-slow-fit",
                           "-d", "Speech", "--limit", "1", "--jobs", "2", "--devices", "cpu", "--results",
                           str(tmp_path / "r"), "--no-report"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shown = [(int(a), int(b)) for a, b in re.findall(r"it (\d+)/(\d+) loss [-\d.e]+ ~\S+ left", done.stderr)]
    assert len(shown) >= 2 and {total for _, total in shown} == {3000}
    assert shown[-1][0] > shown[0][0]


def test_readme_example_prior_runs_on_the_smoke_suite(tmp_path):
    text = README.read_text()
    section = text[text.index("## Adding a method"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "readme_prior.py").write_text(code)
    name = re.search(r'@method\("([^"]+)"', code).group(1)
    env = {**os.environ, "BENCH_PLUGINS": "bench_test_plugins,readme_prior",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    results = tmp_path / "r"
    run = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--suite", "smoke", "--profile", "smoke",
                          "--add-method", name, "-m", "identity", "--limit", "1", "--results", str(results),
                          "--no-progress", "--jobs", "2", "--devices", "cpu"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    records = [json.loads(p.read_text()) for p in results.glob("cells/*/*.json")]
    mine = [r for r in records if r["config"]["method"]["name"] == name]
    assert len(mine) == 2 and all(r["status"] == "ok" for r in mine)  # denoising: one item of each dataset
    assert f"| {name} |" in run.stdout


def test_readme_plugin_examples_import_from_bench_and_register(tmp_path):
    text = README.read_text()
    section = text[text.index("## Adding a method"):text.index("## Results")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for index, code in enumerate(blocks):
        assert re.findall(r"from bench\.\w+ import", code) == []  # the declared API: `from bench import ...`
        (tmp_path / f"readme_plugin_{index}.py").write_text(code)
    env = {**os.environ, "BENCH_PLUGINS": "readme_plugin_0,readme_plugin_1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "bench.cli", "list", "methods", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert {"my-prior", "my-denoiser"} <= {m["name"] for m in json.loads(out)["methods"]}


def test_list_details_still_imports_and_shows_tasks(capsys):
    assert main(["list", "corruptions", "--details"]) == 0
    assert "gaussian-noise" in (out := capsys.readouterr().out) and "[task: denoising]" in out
    assert main(["list", "methods", "--details", "--json"]) == 0
    methods = {m["name"]: m for m in json.loads(capsys.readouterr().out)["methods"]}
    assert "denoising" in methods["identity"]["tasks"] and "tasks" not in methods["identity"]["description"]
