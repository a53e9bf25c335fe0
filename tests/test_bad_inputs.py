"""Bad input to `score`, `corrupt` and `report` gets a one-line error naming what is at fault, or is made
harmless (escaped, sanitised), never a traceback or a wrong number."""
import json
import re

import numpy as np
import pytest
import soundfile as sf

from bench.cli import main

SR = 8000


@pytest.fixture
def wavs(tmp_path):
    rng = np.random.default_rng(1)
    one = 0.3 * rng.standard_normal(2 * SR)
    two = 0.3 * rng.standard_normal(2 * SR)
    paths = {}
    for name, signal in (("ref", one), ("ref_2s", one), ("est_1s", one[:SR] + 0.01 * rng.standard_normal(SR)),
                         ("est", one + 0.05 * rng.standard_normal(2 * SR)), ("other", two),
                         ("other_est", two + 0.05 * rng.standard_normal(2 * SR))):
        paths[name] = tmp_path / f"{name}.wav"
        sf.write(paths[name], signal, SR, subtype="FLOAT")
    return paths


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_score_refuses_files_of_different_lengths(wavs, capsys):
    assert main(["score", str(wavs["ref_2s"]), str(wavs["est_1s"]), "--metrics", "si_sdr"]) == 2
    err = error_line(capsys)
    assert "ref_2s.wav: 16000 samples" in err and "est_1s.wav: 8000 samples" in err and "--trim" in err


def test_score_trim_cuts_to_the_shortest_on_request_and_says_so(wavs, capsys):
    assert main(["score", str(wavs["ref_2s"]), str(wavs["est_1s"]), "--metrics", "snr", "--trim", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["num_samples"] == SR and "cut to the shortest" in captured.err
    reference, estimate = sf.read(wavs["ref_2s"])[0][:SR], sf.read(wavs["est_1s"])[0]
    expected = 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))
    assert out["scores"]["snr"] == pytest.approx(expected, abs=1e-4)


def test_score_refuses_an_input_file_of_another_length(wavs, capsys):
    assert main(["score", str(wavs["ref"]), str(wavs["est"]), "--input", str(wavs["est_1s"]),
                 "--metrics", "snr_i"]) == 2
    assert "est_1s.wav: 8000 samples" in error_line(capsys)


def test_score_refuses_sources_of_different_lengths(wavs, capsys):
    assert main(["score", f"{wavs['ref']},{wavs['est_1s']}", f"{wavs['est']},{wavs['other_est']}",
                 "--metrics", "bss_v3"]) == 2
    assert "different lengths" in error_line(capsys)


def test_identical_reference_sources_fail_the_bss_metrics_with_the_reason_and_score_the_rest(wavs, capsys):
    twice = f"{wavs['ref']},{wavs['ref']}"
    assert main(["score", twice, f"{wavs['est']},{wavs['est']}", "--metrics", "bss_v3,bss_v4,snr", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for name in ("bss_v3", "bss_v4"):
        assert "identical (sources 1 and 2)" in out["errors"][name]
        assert out["scores"][f"sdr_{name[-2:]}"] is None
    reference, estimate = sf.read(wavs["ref"])[0], sf.read(wavs["est"])[0]
    expected = 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))
    assert out["scores"]["snr_src1"] == out["scores"]["snr_src2"] == pytest.approx(expected, abs=1e-4)


def test_a_reference_source_that_is_a_multiple_of_another_is_undefined():
    from bench.metrics import MetricUndefined, get_metric

    rng = np.random.default_rng(0)
    first = rng.standard_normal(SR)
    references = np.stack([first, -0.5 * first])
    for name in ("bss_v3", "bss_v4"):
        with pytest.raises(MetricUndefined, match="multiple or a weighted sum"):
            get_metric(name).compute(references, references + 0.1 * rng.standard_normal((2, SR)), SR)


@pytest.mark.parametrize("spec, expected", [
    ("gaussian-noise[sdr=5]", "unknown parameter 'sdr'. Did you mean: std, snr?"),
    ("gaussian-noise[snr=abc]", "parameter 'snr' must be a number"),
    ("reverb", "missing parameter rt60"),
])
def test_corrupt_names_a_bad_parameter(wavs, tmp_path, capsys, spec, expected):
    out = tmp_path / "out.wav"
    assert main(["corrupt", str(wavs["ref"]), "--corruption", spec, "-o", str(out)]) == 2
    err = error_line(capsys)
    assert expected in err and f"--corruption '{spec}'" in err
    assert not out.exists()


# -- report: labels in Markdown, names in paths ----------------------------------------------------------
SUITE = """
name = "{name}"
items = 2
seeds = [0]
seconds = 0.05
sample_rate = 8000
metrics = ["snr"]
[[methods]]
name = "identity"
label = "{label}"
[[datasets]]
name = "test-tone"
label = "tones | short"
[[corruptions]]
name = "gaussian-noise"
params = {{ std = 0.1 }}
"""


def run_suite(tmp_path, name, label):
    path = tmp_path / "suite.toml"
    path.write_text(SUITE.format(name=name, label=label))
    results = tmp_path / "results"
    assert main(["run", "--suite", str(path), "--results", str(results), "--backend", "sequential",
                 "--no-progress", "--no-report"]) == 0
    return path, results


def test_a_label_with_a_pipe_stays_in_its_markdown_cell(tmp_path, capsys):
    path, results = run_suite(tmp_path, "pipes", "Noisy | input")
    capsys.readouterr()
    assert main(["report", "--suite", str(path), "--results", str(results)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    unescaped = [len(re.findall(r"(?<!\\)\|", line)) for line in rows]
    assert len(rows) == 3 and len(set(unescaped)) == 1, rows  # header, rule, one method: as many cells each
    assert "Noisy \\| input" in rows[2] and "tones \\| short" in rows[0]


def test_a_suite_name_cannot_make_the_html_report_write_outside_reports(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    path, results = run_suite(work, "../../escaped", "In/../put")
    before = {p for p in tmp_path.rglob("*")}
    assert main(["report", "--suite", str(path), "--results", str(results), "--format", "html",
                 "--examples", "1", "--figures", str(work / "figs")]) == 0
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(p.is_relative_to(work / "reports") or p.is_relative_to(work / "figs") for p in written)
    assert (work / "reports" / "escaped" / "index.html").is_file()
    assert not (tmp_path / "escaped").exists()
    assert all(".." not in p.name for p in written)
