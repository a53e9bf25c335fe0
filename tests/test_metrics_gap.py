"""Mask-aware metrics score only what the method had to invent: the samples (frames) inside the gaps."""
import numpy as np
import pytest

from bench.cli import main
from bench.metrics import evaluate, get_metric
from bench.records.store import ResultsStore

SR = 16000
GAP_METRICS = ["si_sdr_gap", "snr_gap", "psnr_gap", "spectral_snr_gap", "envelope_distance_gap"]


@pytest.fixture
def clip():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    reference = 0.5 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(SR)
    mask = np.ones(SR, dtype=np.float32)
    mask[6000:6080] = 0  # one 5 ms gap
    return reference, mask


def _scores(names, reference, estimate, mask):
    scores, errors = evaluate([get_metric(n) for n in names], reference, estimate, SR, {"mask": mask})
    return scores, errors


def test_an_error_only_inside_the_gap_costs_the_whole_clip_score_the_gaps_share_of_the_energy(clip):
    reference, mask = clip
    gap = mask == 0
    error = np.zeros(SR)
    error[gap] = 0.3 * np.random.default_rng(1).standard_normal(gap.sum())
    scores, _ = _scores(["snr", "snr_gap", "psnr_peak2", "psnr_gap"], reference, reference + error, mask)
    # the same error energy over the whole clip's signal energy vs over the gap's only
    assert scores["snr"] - scores["snr_gap"] == pytest.approx(
        10 * np.log10(np.sum(reference**2) / np.sum(reference[gap] ** 2)), abs=1e-6)
    assert scores["snr_gap"] == pytest.approx(10 * np.log10(np.sum(reference[gap] ** 2) / np.sum(error**2)), abs=1e-6)
    # PSNR: the same squared error averaged over all samples or over the gap's
    assert scores["psnr_peak2"] - scores["psnr_gap"] == pytest.approx(10 * np.log10(SR / gap.sum()), abs=1e-6)


def test_the_gapped_input_scores_zero_in_the_gap_and_high_on_the_whole_clip(clip):
    reference, mask = clip
    gapped = reference * mask
    scores, errors = _scores(["si_sdr", "snr_gap", "si_sdr_gap", "envelope_distance", "envelope_distance_gap"],
                             reference, gapped, mask)
    assert scores["si_sdr"] > 20 and scores["snr_gap"] == pytest.approx(0.0, abs=1e-9)
    assert scores["si_sdr_gap"] is None and "silent estimate" in errors["si_sdr_gap"]
    assert scores["envelope_distance_gap"] > 10 * scores["envelope_distance"]


def test_an_estimate_wrong_only_outside_the_gap_is_perfect_inside_it(clip):
    reference, mask = clip
    estimate = reference + (mask > 0) * 0.2 * np.random.default_rng(2).standard_normal(SR)
    scores, _ = _scores(["si_sdr", "si_sdr_gap", "snr_gap"], reference, estimate, mask)
    assert scores["si_sdr"] < 10 and scores["si_sdr_gap"] > 100 and scores["snr_gap"] > 100


def test_spectral_snr_gap_scores_the_frames_centred_in_a_hole(clip):
    from bench.core.audio import Clip
    from bench.corruptions import build_corruption

    reference = clip[0]
    obs = build_corruption("spectral-holes", {"count": 1, "min_s": 0.1, "max_s": 0.1}).apply(
        Clip(reference.astype(np.float32), SR, "x"), np.random.default_rng(0))
    reference, mask = obs.reference.astype(np.float64), obs.known["mask"]
    scores, _ = _scores(["spectral_snr", "spectral_snr_gap", "snr"], reference, obs.signal, mask)
    # The input misses the hole's share of the energy: on the whole clip its spectral SNR is about its
    # waveform SNR (about 10 dB for a tenth of the clip); in the hole's frames it is silence, about 0 dB (a
    # little above: the windows at the hole's edges reach into the known signal).
    assert scores["spectral_snr"] == pytest.approx(scores["snr"], abs=1.5) and scores["snr"] > 8
    assert 0.0 < scores["spectral_snr_gap"] < 2.0
    far = reference.copy()
    start = int(np.flatnonzero(mask == 0)[0])
    damaged = (start + 5000) % (SR - 800)
    far[damaged:damaged + 800] = 0  # 50 ms damaged far from the hole: the hole's frames are untouched
    scores, _ = _scores(["spectral_snr", "spectral_snr_gap"], reference, far, mask)
    assert scores["spectral_snr_gap"] > 100 and scores["spectral_snr"] < 20


def test_mask_aware_metrics_are_undefined_without_a_mask_or_a_gap(clip):
    reference, mask = clip
    scores, errors = evaluate([get_metric(n) for n in GAP_METRICS], reference, reference, SR)
    assert all(scores[n] is None for n in GAP_METRICS)
    assert errors["snr_gap"] == "snr_gap needs the observation's gap mask (an inpainting corruption)"
    scores, errors = _scores(["snr_gap"], reference, reference, np.ones(SR))
    assert scores["snr_gap"] is None and "no gap" in errors["snr_gap"]


def test_the_worker_hands_the_observations_mask_to_the_gap_metrics(tmp_path):
    suite = tmp_path / "gap.toml"
    suite.write_text("""
name = "gap"
items = 2
seeds = [0]
seconds = 0.5
sample_rate = 16000
metrics = ["si_sdr", "si_sdr_gap", "snr_gap"]
[[methods]]
name = "identity"
[[methods]]
name = "ar-gap-fill"
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "waveform-gap"
params = { ms = 5.0 }
""")
    results = tmp_path / "r"
    assert main(["run", "--suite", str(suite), "--results", str(results), "--backend", "sequential",
                 "--no-progress", "--no-report"]) == 0
    records = list(ResultsStore(results).records())
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    for r in records:
        assert r["input_scores"]["snr_gap"] == pytest.approx(0.0, abs=1e-9)  # the gap is silence in the input
        assert r["input_scores"]["si_sdr_gap"] is None and "input:si_sdr_gap" in r["metric_errors"]
        assert r["input_scores"]["si_sdr"] > r["scores"]["snr_gap"] - 100  # both present
        if r["config"]["method"]["name"] == "ar-gap-fill":
            assert r["scores"]["snr_gap"] > 0 and r["scores"]["si_sdr_gap"] is not None
