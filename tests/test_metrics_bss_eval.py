"""BSS Eval v3 against mir_eval, v4 against museval's top-level API and against its SDR written by hand."""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

from bench.metrics import MetricUndefined, evaluate, get_metric

SR = 8000


def sources(seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    first = rng.standard_normal(n) * np.repeat(rng.uniform(0.3, 1.0, int(seconds * 4)), n // int(seconds * 4))
    second = lfilter([1.0], [1.0, -0.9], rng.standard_normal(n)) * 0.3
    return np.stack([first, second]), rng


def separated(references, rng, leak=(0.3, 0.2), noise=(0.1, 0.05)):
    """Estimates with interference, artifacts and a gentle filter, in swapped order."""
    s1, s2 = references
    e1 = lfilter([1.0, 0.3], [1.0], s1) + leak[0] * s2 + noise[0] * rng.standard_normal(s1.size)
    e2 = s2 + leak[1] * s1 + noise[1] * rng.standard_normal(s1.size)
    return np.stack([e2, e1])


def v3(references, estimates):
    return get_metric("bss_v3").compute(references, estimates, SR)


def v4(references, estimates):
    return get_metric("bss_v4").compute(references, estimates, SR)


def test_v3_equals_mir_eval():
    separation = pytest.importorskip("mir_eval.separation")
    references, rng = sources()
    estimates = separated(references, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # mir_eval.separation is deprecated
        sdr, sir, sar, perm = separation.bss_eval_sources(references, estimates)
    assert list(perm) == [1, 0]
    ours = v3(references, estimates)
    for name, expected in (("sdr_v3", sdr), ("sir_v3", sir), ("sar_v3", sar)):
        assert [ours[f"{name}_src1"], ours[f"{name}_src2"]] == pytest.approx(list(expected), abs=1e-3)
        assert ours[name] == pytest.approx(np.mean(expected), abs=1e-3)


def test_v4_sdr_is_the_median_of_the_windowed_snr():
    # museval's v4 SDR compares the estimate to the unfiltered reference, so per 1 s window it is the plain
    # SNR of the (permutation-matched) estimate: computed here without museval.
    references, rng = sources(seconds=3.0)
    estimates = separated(references, rng)
    ours = v4(references, estimates)
    matched = estimates[[1, 0]]
    for k in range(2):
        windows = [slice(t, t + SR) for t in range(0, references.shape[1] - SR + 1, SR)]
        snrs = [10 * np.log10(np.sum(references[k, w] ** 2) / np.sum((references[k, w] - matched[k, w]) ** 2))
                for w in windows]
        assert ours[f"sdr_v4_src{k + 1}"] == pytest.approx(np.median(snrs), abs=1e-6)


MUSEVAL_CHECK = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from test_metrics_bss_eval import separated, sources, v4, SR
references, rng = sources(seconds=3.0, seed=3)
estimates = separated(references, rng)[[1, 0]]  # museval.evaluate does not permute
ours = v4(references, estimates)  # museval/metrics.py loaded on its own, before museval is imported
assert "museval" not in sys.modules and "stempeg" not in sys.modules
import museval
sdr, _isr, sir, sar = museval.evaluate(references[..., None], estimates[..., None], win=SR, hop=SR)
theirs = {f"{name}_src{k + 1}": float(np.nanmedian(framewise[k]))
          for name, framewise in (("sdr_v4", sdr), ("sir_v4", sir), ("sar_v4", sar)) for k in range(2)}
print(json.dumps({"ours": ours, "theirs": theirs}))
"""


def test_v4_equals_museval_evaluate_on_ordered_estimates(tmp_path):
    """Our v4 (museval's metrics module, loaded without museval/__init__) against museval's public
    ``evaluate``. Importing museval in full needs stempeg's import-time check for the ffmpeg and ffprobe
    programs to pass; without them, placeholders on PATH satisfy it (nothing is decoded here)."""
    env = dict(os.environ)
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        for program in ("ffmpeg", "ffprobe"):
            placeholder = tmp_path / program
            placeholder.write_text("#!/bin/sh\nexit 1\n")
            placeholder.chmod(0o755)
        env["PATH"] = os.pathsep.join([str(tmp_path), env.get("PATH", "")])
    result = subprocess.run([sys.executable, "-c", MUSEVAL_CHECK, str(Path(__file__).parent)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert set(out["theirs"]) <= set(out["ours"])
    for name, expected in out["theirs"].items():
        assert out["ours"][name] == pytest.approx(expected, abs=1e-9), name


def test_bss_v4_scores_without_the_ffmpeg_program(tmp_path):
    """`bench score` on two sources in a process whose PATH holds no program at all: no ffmpeg, so
    museval's package import (musdb -> stempeg) would fail; the metric must not need it."""
    references, rng = sources(seconds=2.0, seed=4)
    estimates = separated(references, rng)
    names = {}
    for label, signals in (("ref", references), ("est", estimates)):
        names[label] = []
        for k, signal in enumerate(signals):
            path = tmp_path / f"{label}{k}.wav"
            sf.write(path, signal, SR, subtype="DOUBLE")
            names[label].append(str(path))
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    result = subprocess.run([sys.executable, "-m", "bench.cli", "score", ",".join(names["ref"]),
                             ",".join(names["est"]), "--metrics", "bss_v4", "--json"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert out["errors"] == {}
    assert out["scores"] == pytest.approx(v4(references, estimates), abs=1e-6)


def test_v4_sir_and_sar_agree_with_v3_on_a_single_window():
    references, rng = sources(seconds=1.0, seed=5)
    estimates = separated(references, rng)
    four, three = v4(references, estimates), v3(references, estimates)
    for k in (1, 2):
        assert four[f"sir_v4_src{k}"] == pytest.approx(three[f"sir_v3_src{k}"], abs=0.01)
        assert four[f"sar_v4_src{k}"] == pytest.approx(three[f"sar_v3_src{k}"], abs=0.01)
    # the first estimate is filtered: v3 forgives a 512-tap filter, v4 counts it as distortion
    assert three["sdr_v3_src1"] > four["sdr_v4_src1"] + 1


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_the_order_of_the_estimates_does_not_matter(version):
    references, rng = sources(seed=11)
    estimates = separated(references, rng)
    compute = v3 if version == "v3" else v4
    assert compute(references, estimates) == pytest.approx(compute(references, estimates[[1, 0]]), abs=1e-9)


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_better_separation_scores_higher_and_near_perfect_is_very_high(version):
    references, rng = sources(seed=2)
    compute = v3 if version == "v3" else v4
    good = compute(references, separated(references, rng, leak=(0.05, 0.05), noise=(0.01, 0.01)))
    bad = compute(references, separated(references, rng, leak=(0.5, 0.5), noise=(0.1, 0.1)))
    assert good[f"sdr_{version}"] > bad[f"sdr_{version}"] and good[f"sir_{version}"] > bad[f"sir_{version}"]
    near = compute(references, references + 1e-4 * rng.standard_normal(references.shape))  # about 80 dB
    assert all(60 < near[f"{m}_{version}"] < 120 for m in ("sdr", "sar"))


@pytest.mark.parametrize("name", ["bss_v3", "bss_v4"])
def test_a_silent_source_is_metric_undefined(name):
    references, rng = sources()
    estimates = separated(references, rng)
    estimates[0] = 0.0
    with pytest.raises(MetricUndefined, match="silent"):
        get_metric(name).compute(references, estimates, SR)


def test_bss_metrics_score_the_source_set_not_each_source():
    for name in ("bss_v3", "bss_v4"):
        metric = get_metric(name)
        assert metric.per_source is False and metric.trace_safe is False
        assert metric.output_names == tuple(f"{m}_{name[-2:]}" for m in ("sdr", "sir", "sar"))


def _piano_and_drums(sr, seconds=2.0, seed=0):
    """A synthetic piano (little energy above a few kHz) and drums at equal power, and the estimates
    s1 + 0.25 s2 and s2 + 0.25 s1: the true SIR of each is 20 log10(4) = 12.04 dB."""
    from bench.datasets.synthetic import drums_like, piano_like

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    piano, drums = piano_like(n, sr, rng), drums_like(n, sr, rng)
    spectrum = np.fft.rfft(piano)
    spectrum[np.fft.rfftfreq(n, 1 / sr) > 7500] *= 10 ** (-110 / 20)  # band-limited: -110 dB above 7.5 kHz
    piano = np.fft.irfft(spectrum, n)
    references = 0.1 * np.stack([piano / np.std(piano), drums / np.std(drums)])
    return references, np.stack([references[0] + 0.25 * references[1], references[1] + 0.25 * references[0]])


def test_v4_sir_goes_wrong_on_a_band_limited_reference_where_v3_holds_and_the_record_says_so():
    """Needs museval's metrics importable without ffmpeg (issue 13, item 6)."""
    from bench.metrics import evaluate

    sr = 44100  # the piano leaves most of the band empty
    references, estimates = _piano_and_drums(sr)
    scores, errors = evaluate([get_metric("bss_v4"), get_metric("bss_v3")], references, estimates, sr)
    for k in (1, 2):
        assert scores[f"sir_v3_src{k}"] == pytest.approx(20 * np.log10(4), abs=0.3)
    assert max(abs(scores[f"sir_v4_src{k}"] - scores[f"sir_v3_src{k}"]) for k in (1, 2)) > 3.0
    assert "sir_v4_vs_v3" in errors and "prefer v3" in errors["sir_v4_vs_v3"]
    assert scores["sir_v4"] is not None  # the warning keeps the scores
    # At 16 kHz the same piano fills its band: v4 agrees with v3, and nothing is flagged.
    references, estimates = _piano_and_drums(16000)
    scores, errors = evaluate([get_metric("bss_v4"), get_metric("bss_v3")], references, estimates, 16000)
    assert abs(scores["sir_v4_src1"] - scores["sir_v3_src1"]) < 1.0 and "sir_v4_vs_v3" not in errors


def test_the_sir_check_flags_only_sources_whose_versions_differ_by_more_than_a_few_db():
    from bench.metrics.bss_eval import SIR_DISAGREEMENT_DB, sir_versions_disagree

    scores = {"sir_v4_src1": 3.98, "sir_v3_src1": 12.07, "sir_v4_src2": 10.0, "sir_v3_src2": 11.0}
    warning = sir_versions_disagree(scores)["sir_v4_vs_v3"]
    assert "source 1: v4 3.98 dB, v3 12.07 dB" in warning and "source 2" not in warning
    scores["sir_v4_src1"] = 12.07 - SIR_DISAGREEMENT_DB + 0.01
    assert sir_versions_disagree(scores) == {}
    assert sir_versions_disagree({"sir_v4_src1": 3.0, "sir_v3_src1": None}) == {}  # v3 not scored
    assert sir_versions_disagree({"sir_v3_src1": 3.0}) == {}  # v4 not in the suite


def test_bss_v3_works_when_torch_runs_on_several_threads():
    """torch 2.13's multithreaded CPU LU gave lu_solve invalid pivots inside fast_bss_eval (bss_v3 raised
    RuntimeError for every separation cell of a process with more than one torch thread)."""
    import torch

    rng = np.random.default_rng(0)
    reference = rng.standard_normal((2, 8000)).astype(np.float32)
    estimate = reference + 0.3 * rng.standard_normal((2, 8000)).astype(np.float32)
    one, _ = evaluate([get_metric("bss_v3")], reference, estimate, 16000)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two, _ = evaluate([get_metric("bss_v3")], reference, estimate, 16000)
        assert torch.get_num_threads() == 2  # the caller's setting is left as it was
    finally:
        torch.set_num_threads(threads)
    assert two == pytest.approx(one)


def test_v4_takes_the_median_over_windows_of_different_quality():
    """Four 1 s windows whose interference and noise differ by far (the golden clips are one window, where a
    mean and a median agree): each of SDR, SIR and SAR is the median of museval's per-window values, which
    here lies more than 1 dB from their mean."""
    from bench.metrics.bss_eval import FILTER_LENGTH, _museval

    references, rng = sources(seconds=4.0, seed=3)
    references[1] *= np.repeat([1.0, 1.0, 1.0, 0.05], SR)  # the second source nearly silent in window 3: SIR
    noise = np.repeat([0.01, 0.5, 0.01, 0.01], SR)  # the noise strong in window 1 only: SAR
    estimates = np.stack([references[k] + 0.1 * references[1 - k] + noise * rng.standard_normal(4 * SR)
                          for k in range(2)])
    ours = v4(references, estimates)
    framewise = _museval().bss_eval(references[..., None], estimates[..., None], window=SR, hop=SR,
                                    compute_permutation=True, filters_len=FILTER_LENGTH, framewise_filters=False,
                                    bsseval_sources_version=False)
    for name, values in (("sdr_v4", framewise[0]), ("sir_v4", framewise[2]), ("sar_v4", framewise[3])):
        assert values.shape == (2, 4)
        for k in range(2):
            assert ours[f"{name}_src{k + 1}"] == pytest.approx(np.median(values[k]), abs=1e-6)
        assert max(abs(np.median(v) - np.mean(v)) for v in values) > 1.0, name  # a mean would show


@pytest.mark.parametrize("name", ["bss_v3", "bss_v4"])
def test_ratios_whose_residual_is_rounding_noise_are_undefined_with_the_reason(name):
    """An estimate equal to its reference, or the mixture (the sum of the references) as every source's
    estimate: the residual is rounding noise (143-152 dB or NaN in v3, 300+ dB in v4 before), so the ratio is
    undefined, recorded as None with the reason, and the well-defined ratios stay."""
    from bench.metrics.bss_eval import MAX_RATIO_DB

    references, _ = sources()
    version = name[-2:]
    scores, errors = evaluate([get_metric(name)], references, references.copy(), SR)
    assert all(v is None for v in scores.values()) and "rounding noise" in errors[name]
    mixture = np.stack([references.sum(axis=0)] * 2)
    scores, errors = evaluate([get_metric(name)], references, mixture, SR)
    for source in ("", "_src1", "_src2"):
        assert scores[f"sar_{version}{source}"] is None  # nothing but the references: no artifacts at all
        assert -10 < scores[f"sir_{version}{source}"] < 10  # the other source is the interference: defined
    assert errors[name].startswith(f"sar_{version} (source 1, 2) undefined") and f"{MAX_RATIO_DB:g} dB" in errors[name]


@pytest.mark.parametrize("name", ["bss_v3", "bss_v4"])
def test_a_single_source_task_is_not_applicable_and_keeps_the_other_metrics(name):
    references, rng = sources()
    reference = references[0]
    scores, errors = evaluate([get_metric(name), get_metric("si_sdr")], reference,
                              reference + 0.1 * rng.standard_normal(reference.size), SR)
    assert errors[name].startswith("not applicable") and scores["si_sdr"] > 10
    assert all(scores[o] is None for o in get_metric(name).output_names)


def test_a_targeted_extraction_is_scored_against_its_own_reference_without_a_permutation():
    """An extraction of source 1 that is closer to source 2 (and the rest, mixture minus it, closer to
    source 1): BSS Eval with the permutation swaps them and flatters it; bss_v3_fixed must not."""
    references, _ = sources(seed=5)
    s1, s2 = references
    extraction = 0.3 * s1 + s2
    # the rest: mixture minus the extraction (0.7 s1) with a slight leak of s2, so its SIR is finite (an exact
    # multiple of s1 has an undefined SIR)
    estimates = np.stack([extraction, 0.7 * s1 + 0.001 * s2])
    permuted = v3(references, estimates)
    fixed = get_metric("bss_v3_fixed").compute(references, estimates, SR)
    assert permuted["sir_v3_src1"] > 20  # the rest scored as source 1
    assert fixed["sir_v3_fixed_src1"] < -5  # the extraction itself: mostly source 2
    assert fixed["sir_v3_fixed_src2"] < -5
    ordered = np.stack([references[0] + 0.1 * references[1], references[1] + 0.2 * references[0]])
    same = get_metric("bss_v3_fixed").compute(references, ordered, SR)
    assert same["sir_v3_fixed_src1"] == pytest.approx(v3(references, ordered)["sir_v3_src1"], abs=1e-9)
