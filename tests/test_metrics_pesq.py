"""PESQ wrappers against the pesq package, resampling, and the pairs PESQ cannot score."""
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from bench.datasets.synthetic import speech_like
from pesq import pesq

from bench.metrics import MetricUndefined, get_metric

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "samples" / "speech"


def score(name, reference, estimate, sr):
    return get_metric(name).compute(reference, estimate, sr)[name]


@pytest.fixture(scope="module")
def speech16k():
    clean = speech_like(2 * 16000, 16000, np.random.default_rng(7))
    clean = 0.5 * clean / np.max(np.abs(clean))
    noisy = clean + 0.02 * np.random.default_rng(8).standard_normal(clean.size)
    return clean, noisy


def test_wide_band_equals_the_pesq_package_at_16k(speech16k):
    clean, noisy = speech16k
    assert score("pesq_wb", clean, noisy, 16000) == pytest.approx(pesq(16000, clean, noisy, "wb"), abs=1e-6)


def test_narrow_band_resamples_to_8k_then_equals_the_pesq_package(speech16k):
    clean, noisy = speech16k
    expected = pesq(8000, soxr.resample(clean, 16000, 8000), soxr.resample(noisy, 16000, 8000), "nb")
    assert score("pesq_nb", clean, noisy, 16000) == pytest.approx(expected, abs=1e-6)


def test_other_rates_are_resampled_before_scoring(speech16k):
    clean, noisy = speech16k
    clean48, noisy48 = soxr.resample(clean, 16000, 48000), soxr.resample(noisy, 16000, 48000)
    assert score("pesq_wb", clean48, noisy48, 48000) == pytest.approx(score("pesq_wb", clean, noisy, 16000), abs=0.1)


def test_perfect_estimate_scores_the_top_of_each_scale(speech16k):
    clean, _ = speech16k
    assert score("pesq_wb", clean, clean, 16000) == pytest.approx(4.644, abs=0.01)
    assert score("pesq_nb", clean, clean, 16000) == pytest.approx(4.549, abs=0.01)


def test_more_noise_scores_lower_and_the_order_of_arguments_matters(speech16k):
    clean, _ = speech16k
    noise = np.random.default_rng(9).standard_normal(clean.size)
    values = [score("pesq_wb", clean, clean + level * noise, 16000) for level in (0.002, 0.01, 0.05)]
    assert values[0] > values[1] > values[2]
    noisy = clean + 0.01 * noise
    assert score("pesq_wb", clean, noisy, 16000) != score("pesq_wb", noisy, clean, 16000)


@pytest.mark.parametrize("reference, estimate, reason", [
    (np.zeros(16000), np.zeros(16000), "silent reference"),
    (None, np.zeros(16000), "silent estimate"),
    (np.ones(2000), np.ones(2000), "at least 0.25 s"),
])
def test_unscorable_pairs_raise_metric_undefined(speech16k, reference, estimate, reason):
    reference = speech16k[0][:16000] if reference is None else reference
    for name in ("pesq_wb", "pesq_nb"):
        with pytest.raises(MetricUndefined, match=reason):
            get_metric(name).compute(reference, estimate, 16000)


def test_no_utterance_is_metric_undefined_not_a_crash():
    # A 20 Hz hum is not silent, but it lies below PESQ's band and its voice activity detector finds nothing.
    reference = np.sin(2 * np.pi * 20 * np.arange(16000) / 16000)
    with pytest.raises(MetricUndefined, match="No utterances"):
        get_metric("pesq_wb").compute(reference, reference[::-1].copy(), 16000)


@pytest.mark.skipif(not SPEECH.is_dir(), reason="no CMU ARCTIC samples beside the checkout")
def test_real_speech_pair_matches_the_pesq_package():
    clean, sr = sf.read(sorted(SPEECH.glob("*.wav"))[0])
    assert sr == 16000
    noisy = clean + 0.02 * np.random.default_rng(1).standard_normal(clean.size)
    wb = score("pesq_wb", clean, noisy, sr)
    assert wb == pytest.approx(pesq(16000, clean, noisy, "wb"), abs=1e-6)
    assert 1.0 < wb < score("pesq_wb", clean, clean + 0.002 * (noisy - clean) / 0.02, sr) <= 4.65
