"""Reports from a real small run: Markdown, CSV, LaTeX (compiled when a TeX engine is here), figures, and
the HTML folder driven in headless chromium (skipped when chromium is absent)."""
import json
import re
import shutil
import subprocess
import tomllib

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from bench.cli import main
from bench.planning.cells import expand
from bench.planning.suite import parse_suite, read_suite_file
from bench.records.store import ResultsStore
from bench.reporting.csv import render_csv
from bench.reporting.json import render_json
from bench.reporting.markdown import render_markdown
from bench.reporting.tables import build_tables, entries

SUITE = """
name = "reptest"
title = "Report test: two noise levels"
paper = "none (a test)"
items = 3
seeds = [0]
seconds = 0.1
sample_rate = 8000
metrics = ["si_sdr", "snr"]
layout = { rows = ["corruption", "method"], columns = ["dataset", "metric"] }
[protocol]
iterations = 6
trace_every = 1
[[methods]]
name = "identity"
label = "Input"
[[methods]]
name = "test-iterative"
label = "Shrink"
[[methods]]
name = "test-raises"
label = "Broken"
[[datasets]]
name = "test-tone"
label = "Tones"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.05 }
label = "noise σ=0.05"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.2 }
label = "noise σ=0.2"
[[references]]
method = "Input"
dataset = "Tones"
corruption = "noise σ=0.2"
metric = "snr"
mean = 5.5
std = 0.25
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    suite_path = root / "reptest.toml"
    suite_path.write_text(SUITE)
    results = root / "results"
    # test-raises fails its cells, so the run exits 1; the report must say so.
    assert main(["run", "--suite", str(suite_path), "--results", str(results), "--backend", "sequential",
                 "--no-progress", "--no-report"]) == 1
    suite = read_suite_file(suite_path)
    cells = expand(suite)
    store = ResultsStore(results)
    return {"root": root, "suite_path": str(suite_path), "results": str(results), "suite": suite,
            "cells": cells, "store": store, "tables": build_tables(suite, cells, store, "paper")}


def _aggregate(run) -> pd.DataFrame:
    """The pandas aggregation of the stored records, done here independently of bench.reporting."""
    cells = run["cells"]
    long = run["store"].table([c.key for c in cells], {c.key: c.labels for c in cells})
    ok = long[(long.status == "ok") & (long.which == "estimate")]
    return ok.groupby(["corruption", "method", "dataset", "metric"])["value"].agg(["mean", "std", "count"])


def test_markdown_numbers_are_the_pandas_aggregation(run):
    md = render_markdown(run["tables"])
    agg = _aggregate(run)
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    assert header[:2] == ["Corruption", "Method"] and header[2] == "Tones / si_sdr ↑"
    corruption = None
    checked = broken = 0
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        corruption = cells[0] or corruption
        if cells[1] == "Broken":  # every cell of it failed: its row shows how many, instead of vanishing
            assert cells[2:] == ["— (3 failed)"] * 2, line
            broken += 1
            continue
        for title, text in zip(header[2:], cells[2:]):
            dataset, metric = title.split(" / ")
            stats = agg.loc[(corruption, cells[1], dataset, metric.split()[0])]
            number = re.match(r"\**(-?[\d.]+) ± ([\d.]+)", text)
            assert float(number.group(1)) == pytest.approx(stats["mean"], abs=0.005)
            assert float(number.group(2)) == pytest.approx(stats["std"], abs=0.005)
            checked += 1
    assert checked == 2 * 2 * 2 and broken == 2  # corruptions x methods that ran x metric outputs
    assert "INCOMPLETE: 6 failed, 0 timeout and 0 missing of 18 cells" in md
    assert "SYNTHETIC" in md and "n=3 items" in md
    # The paper's number beside ours with the difference.
    ours = agg.loc[("noise σ=0.2", "Input", "Tones", "snr")]["mean"]
    assert f"[paper 5.50 ± 0.25, Δ {ours - 5.5:+.2f}]" in md


def test_best_per_column_follows_the_metric_direction(run):
    values = entries(run["tables"][0])
    agg = _aggregate(run)
    for (row, column), entry in values.items():
        corruption, method = row
        dataset, metric = column
        rivals = agg.loc[(corruption, slice(None), dataset, metric), "mean"]
        assert entry.best == (entry.value == rivals.max())  # si_sdr and snr: higher is better


def test_csv_carries_the_aggregation_and_the_paper_numbers(run):
    csv = pd.read_csv(pd.io.common.StringIO(render_csv(run["tables"])))
    agg = _aggregate(run)
    for _, r in csv.iterrows():
        stats = agg.loc[(r["corruption"], r["method"], r["dataset"], r["metric"])]
        assert r["mean"] == pytest.approx(stats["mean"]) and r["n"] == stats["count"] == 3
    ref = csv[(csv.method == "Input") & (csv.corruption == "noise σ=0.2") & (csv.metric == "snr")].iloc[0]
    assert ref["paper_mean"] == 5.5 and ref["paper_std"] == 0.25


def test_latex_is_booktabs_and_compiles(run, tmp_path, capsys):
    out = tmp_path / "table.tex"
    assert main(["report", "--suite", run["suite_path"], "--results", run["results"], "--format", "latex",
                 "-o", str(out)]) == 0
    tex = out.read_text()
    assert "\\toprule" in tex and "\\cmidrule(lr){3-4}" in tex and "\\multicolumn{2}{c}{Tones}" in tex
    assert "si\\_sdr $\\uparrow$" in tex and "noise $\\sigma$=0.2" in tex and "\\textbf{" in tex
    agg = _aggregate(run)
    shrink = agg.loc[("noise σ=0.05", "Shrink", "Tones", "snr")]
    assert f"{shrink['mean']:.2f} $\\pm$ {shrink['std']:.2f}" in tex
    engine = shutil.which("pdflatex") or shutil.which("lualatex") or shutil.which("xelatex")
    if engine is None:
        pytest.skip("no TeX engine here; the LaTeX text was checked, not compiled")
    doc = tmp_path / "paper.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                   f"\\input{{{out.name}}}\n\\end{{document}}\n")
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000


def test_convergence_figure_plots_the_trace_mean(run, tmp_path):
    from bench.reporting.figures import convergence, trace_frame, write_figures

    traces = trace_frame(run["cells"], run["store"])
    fig = convergence(run["tables"][0], traces, "snr")
    ax = fig.axes[0]  # Tones, noise σ=0.05
    line = next(line for line in ax.lines if line.get_label() == "Shrink")
    # Independently from the records: mean over items of the traced snr at each iteration.
    by_iteration = {}
    for record in run["store"].records([c.key for c in run["cells"]]):
        if record["labels"]["method"] == "Shrink" and record["labels"]["corruption"] == "noise σ=0.05":
            for point in record["trace"]:
                by_iteration.setdefault(point["iteration"], []).append(point["scores"]["snr"])
    assert list(line.get_xdata()) == sorted(by_iteration)
    np.testing.assert_allclose(line.get_ydata(), [np.mean(by_iteration[i]) for i in sorted(by_iteration)])
    paths = write_figures(run["tables"], run["cells"], run["store"], tmp_path / "figs")
    names = {p.name for p in paths}
    for kind in ("convergence", "level", "box"):
        assert f"reptest-{kind}-snr.png" in names and f"reptest-{kind}-snr.svg" in names
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "figs" / "reptest-level-snr.png").shape[0] > 100
    assert (tmp_path / "figs" / "reptest-box-snr.svg").read_text().lstrip().startswith("<?xml")


def test_box_plots_draw_every_panel_on_one_value_axis(run):
    """The two noise levels' boxes lie far apart in SNR; one axis makes them comparable (as Figure 3 of the
    style-transfer paper draws its three cases)."""
    from bench.reporting.figures import box_plots

    long = run["store"].table([c.key for c in run["cells"]], {c.key: c.labels for c in run["cells"]})
    fig = box_plots(run["tables"][0], long, "snr")
    limits = {ax.get_ylim() for ax in fig.axes if ax.get_visible()}
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2 and len(limits) == 1
    low, high = limits.pop()
    values = long[(long.metric == "snr") & (long.status == "ok") & (long.which == "estimate")]["value"]
    assert low <= values.min() and values.max() <= high


def test_convergence_panels_share_one_legend_and_count_iterations_in_integers(run):
    from bench.reporting.figures import convergence, trace_frame

    traces = trace_frame(run["cells"], run["store"])
    early = traces[traces["iteration"] <= 3]  # a short trace: a default axis would tick 1.0, 1.25, 1.5, ...
    # A second traced method ("Input" traces nothing itself), drawn in the second panel only: the legend must
    # still name it.
    second = early[early["corruption"] == "noise σ=0.2"].assign(method="Input", value=lambda f: f["value"] - 1)
    fig = convergence(run["tables"][0], pd.concat([early, second]), "snr")
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(panels) == 2
    for ax in panels:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in panels)
    drawn = {line.get_label() for ax in panels for line in ax.lines}
    assert {t.get_text() for t in fig.legends[0].get_texts()} == drawn == {"Input", "Shrink"}
    colours = {(line.get_label(), line.get_color()) for ax in panels for line in ax.lines}
    assert len(colours) == len(drawn)  # a method has one colour in every panel


def test_spectrograms_have_a_colour_bar_and_show_silence_at_the_floor():
    from bench.reporting.figures import SPECTROGRAM_DB, spectrograms

    sr = 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    fig = spectrograms({"tone": tone, "silence": np.zeros(sr)}, sr)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "dB" in bars[0].get_ylabel()
    meshes = [ax.collections[0] for ax in fig.axes if ax.collections and ax not in bars]
    assert len(meshes) == 2 and all(m.get_clim() == SPECTROGRAM_DB for m in meshes)
    silence = np.ma.filled(meshes[1].get_array(), np.nan)
    assert np.all(silence == SPECTROGRAM_DB[0])  # drawn at the floor, not left blank
    assert np.nanmax(np.ma.filled(meshes[0].get_array(), np.nan)) > -40


def test_regenerated_example_reproduces_the_scored_cell(run):
    from bench.metrics import get_metric
    from bench.reporting.examples import regenerate

    cell = next(c for c in run["cells"] if c.labels["method"] == "Shrink")
    example = regenerate(cell)
    record = run["store"].read(cell.key)
    snr = get_metric("snr").compute(example.clean, example.estimate, example.sr)["snr"]
    assert snr == pytest.approx(record["scores"]["snr"], abs=1e-4)
    assert example.corrupted.shape == example.clean.shape == example.estimate.shape


# -- HTML in a real headless browser --------------------------------------------------------------------
def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def html_folder(run):
    folder = run["root"] / "html"
    assert main(["report", "--suite", run["suite_path"], "--results", run["results"], "--format", "html",
                 "-o", str(folder), "--examples", "2"]) == 0
    return folder


def test_html_folder_is_self_contained(html_folder):
    page = (html_folder / "index.html").read_text()
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        if not src.startswith("data:"):
            assert not re.match(r"^[a-z]+://|^/", src), src  # relative paths only: opens from the file system
            assert (html_folder / src).is_file(), src
    audio = re.findall(r'<audio[^>]*src="([^"]+)"', page)
    # 2 examples x (clean, corrupted = Input, Shrink): the identity "Input" plays the corrupted signal, so it
    # shares its player; Broken cannot be regenerated and has no finished cell
    assert len(audio) == 6
    assert page.count("corrupted = Input<br>") == 2
    contents = []
    for src in audio:
        data, sr = sf.read(html_folder / src)
        assert sr == 8000 and len(data) == 800 and np.abs(data).max() > 0.01
        contents.append(data.tobytes())
    assert len(set(contents)) == len(contents)  # no two players play the same audio
    assert "Provenance" in page and "profile" in page


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_html_report_renders_in_headless_chromium(html_folder, tmp_path):
    from cdp_browser import load_page

    result = load_page(_chromium(), (html_folder / "index.html").as_uri(), tmp_path / "profile",
                       screenshot=tmp_path / "report.png")
    assert result["errors"] == []
    dom = result["dom"]
    assert dom["tables"] >= 2 and dom["bold"] >= 4
    assert dom["images"] >= 7 and dom["broken_images"] == []
    assert len(dom["audio"]) == 6 and all(a["error"] is None for a in dom["audio"])
    assert all(a["duration"] == pytest.approx(0.1, abs=0.01) for a in dom["audio"])
    assert (tmp_path / "report.png").stat().st_size > 10000


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_the_browser_check_catches_a_broken_page(tmp_path):
    from cdp_browser import load_page

    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                   '<img src="missing.png"><script>undefined_function()</script></body></html>')
    result = load_page(_chromium(), bad.as_uri(), tmp_path / "profile")
    assert result["dom"]["broken_images"] == ["missing.png"]
    assert any("undefined_function" in e for e in result["errors"])


def test_median_protocol_shows_medians_with_their_interquartile_range_and_the_item_count(run, tmp_path):
    path = tmp_path / "median.toml"
    path.write_text(SUITE.replace('metrics = ["si_sdr", "snr"]', 'metrics = ["si_sdr", "snr"]\naggregate = "median"'))
    suite = read_suite_file(path)
    cells = expand(suite)
    assert {c.key for c in cells} == {c.key for c in run["cells"]}  # the same experiment, only summarised
    md = render_markdown(build_tables(suite, cells, run["store"], "paper"))
    long = run["store"].table([c.key for c in cells], {c.key: c.labels for c in cells})
    sel = long[(long.method == "Shrink") & (long.corruption == "noise σ=0.2") & (long.metric == "snr")
               & (long.which == "estimate")]["value"]
    quartiles = f"[{sel.quantile(0.25):.2f}, {sel.quantile(0.75):.2f}]"
    assert sel.quantile(0.25) < sel.quantile(0.75)  # three distinct values: the range is not one number
    assert f"{sel.median():.2f} {quartiles} (n=3)" in md
    assert "median [25th, 75th percentile] over n=3 items" in md
    cells_json = json.loads(render_json(build_tables(suite, cells, run["store"], "paper")))["tables"][0]["cells"]
    shown = [c for c in cells_json if c["row"] == ["noise σ=0.2", "Shrink"] and c["column"][-1] == "snr"]
    assert [(c["median"], c["q25"], c["q75"]) for c in shown] == \
        [pytest.approx((sel.median(), sel.quantile(0.25), sel.quantile(0.75)))]


SEPARATION = """
name = "septest"
items = 2
seconds = 0.25
sample_rate = 8000
metrics = ["si_sdr"]
layout = { columns = ["dataset", "metric"], sources = "each" }
[[methods]]
name = "identity"
label = "Mixture"
[[datasets]]
name = "stack"
params = { sources = [{ name = "synthetic-piano" }, { name = "synthetic-drums" }] }
label = "Piano + Drums"
[[corruptions]]
name = "mixture"
[[references]]
method = "Mixture"
dataset = "Piano + Drums"
metric = "si_sdr_src2"
mean = 1.0
"""


def _run_separation(tmp_path, text):
    """Run a separation suite (identity on two stacked synthetic sources) in this process."""
    path = tmp_path / "septest.toml"
    path.write_text(text)
    results = tmp_path / "results"
    assert main(["run", "--suite", str(path), "--results", str(results), "--backend", "sequential",
                 "--no-progress", "--no-report"]) == 0
    suite = read_suite_file(path)
    return suite, expand(suite), ResultsStore(results)


def test_separation_layout_shows_a_column_per_source_with_its_paper_number(tmp_path):
    suite, cells, store = _run_separation(tmp_path, SEPARATION)
    md = render_markdown(build_tables(suite, cells, store, "paper"))
    header = next(line for line in md.splitlines() if line.startswith("| Method"))
    assert [h.strip() for h in header.strip("|").split("|")][1:] == [
        "Piano + Drums / si_sdr_src1 ↑", "Piano + Drums / si_sdr_src2 ↑"]
    long = store.table([c.key for c in cells], {c.key: c.labels for c in cells})
    ours = long[(long.metric == "si_sdr_src2") & (long.which == "estimate")]["value"].mean()
    assert f"[paper 1.00, Δ {ours - 1.0:+.2f}]" in md


def test_select_overrides_which_iterate_the_table_shows(run, capsys):
    assert main(["report", "--suite", run["suite_path"], "--results", run["results"], "--select", "oracle"]) == 0
    md = capsys.readouterr().out
    assert "own best traced iterate against the clean signal (oracle:each)" in md and "final estimate" not in md
    long = run["store"].table([c.key for c in run["cells"]], {c.key: c.labels for c in run["cells"]})
    best = long[(long.method == "Shrink") & (long.corruption == "noise σ=0.2") & (long.metric == "snr")
                & (long.which == "oracle")]["value"]
    final = long[(long.method == "Shrink") & (long.corruption == "noise σ=0.2") & (long.metric == "snr")
                 & (long.which == "estimate")]["value"]
    assert best.mean() != pytest.approx(final.mean())  # the two selections differ for this method
    assert f"{best.mean():.2f} ± {best.std():.2f}" in md


def test_a_reference_naming_a_dataset_the_layout_hides_still_matches(run):
    """One dataset, so the layout leaves it out: the reference (which names it) must still show, and one
    naming another dataset must not."""
    hidden = SUITE.replace('columns = ["dataset", "metric"]', 'columns = ["metric"]')
    suite = parse_suite(tomllib.loads(hidden))
    md = render_markdown(build_tables(suite, run["cells"], run["store"], "paper"))
    assert "[paper 5.50 ± 0.25" in md
    other = parse_suite(tomllib.loads(hidden.replace('dataset = "Tones"', 'dataset = "Other"')))
    assert "[paper" not in render_markdown(build_tables(other, run["cells"], run["store"], "paper"))


def test_a_cross_metric_warning_shows_as_a_banner_under_the_tables_selection(tmp_path):
    """BSS Eval v4 against v3 SIR: the report says when they disagree by more than a few dB on the very
    entries it shows, and stays silent when they agree."""
    both = SEPARATION.replace('metrics = ["si_sdr"]', 'metrics = ["bss_v4", "bss_v3"]')
    suite, cells, store = _run_separation(tmp_path, both.replace('metric = "si_sdr_src2"', 'metric = "sdr_v4_src2"'))

    def banner():
        md = render_markdown(build_tables(suite, cells, store, "paper"))
        return [line for line in md.splitlines() if "sir_v4_vs_v3" in line]

    records = list(store.records([c.key for c in cells]))
    far = [r for r in records if any(abs(r["scores"][f"sir_v4_src{k}"] - r["scores"][f"sir_v3_src{k}"]) > 3.0
                                     for k in (1, 2))]
    assert len(records) == 2 and len(far) < 2
    assert bool(banner()) == bool(far)
    planted = next(r for r in records if r not in far)  # v4 SIR 3.5 dB above v3: past the threshold
    record_file = next(store.root.rglob(f"{planted['key']}.json"))
    stored = json.loads(record_file.read_text())
    stored["scores"]["sir_v4_src2"] = stored["scores"]["sir_v3_src2"] + 3.5
    record_file.write_text(json.dumps(stored))
    [line] = banner()
    assert f"warns on {len(far) + 1} of 2 scored entries" in line and "Mixture" in line
    stored["scores"]["sir_v4_src2"] = stored["scores"]["sir_v3_src2"] + 2.5  # within the threshold
    record_file.write_text(json.dumps(stored))
    assert bool(banner()) == bool(far)


def test_undefined_scores_are_recorded_with_their_reason_and_counted_in_the_table(tmp_path):
    """The identity row of a separation returns the mixture: its BSS Eval SAR has no finite value (nothing
    but the references, no artifacts). The cell is ok, the SAR is None with the reason, the SIR is kept, and
    the table says how many undefined scores its means leave out."""
    with_bss = SEPARATION.replace('metrics = ["si_sdr"]', 'metrics = ["si_sdr", "bss_v3"]')
    suite, cells, store = _run_separation(tmp_path, with_bss)
    records = list(store.records([c.key for c in cells]))
    assert len(records) == 2
    for record in records:
        assert record["status"] == "ok" and record["scores"]["sar_v3_src1"] is None
        assert record["scores"]["sir_v3_src1"] is not None and "rounding noise" in record["metric_errors"]["bss_v3"]
    md = render_markdown(build_tables(suite, cells, store, "paper"))
    [banner] = [line for line in md.splitlines() if "UNDEFINED" in line]
    assert "sar_v3_src1 2 of 2" in banner and "sar_v3_src2 2 of 2" in banner and "sir_v3" not in banner


def test_bss_eval_on_a_single_source_task_is_not_applicable_and_the_cell_keeps_its_other_metrics(tmp_path):
    single = """
name = "single"
items = 1
seconds = 0.25
sample_rate = 8000
metrics = ["si_sdr", "bss_v3", "bss_v4"]
methods = [{ name = "identity" }]
datasets = [{ name = "synthetic-speech" }]
corruptions = [{ name = "gaussian-noise", params = { std = 0.05 } }]
"""
    suite, cells, store = _run_separation(tmp_path, single)
    [record] = list(store.records([c.key for c in cells]))
    assert record["status"] == "ok" and record["scores"]["si_sdr"] is not None
    assert record["scores"]["sdr_v3"] is None and record["scores"]["sdr_v4"] is None
    assert record["metric_errors"]["bss_v3"].startswith("not applicable")
    assert record["metric_errors"]["bss_v4"].startswith("not applicable")
