"""The classical no-learning rows of the paper tables: WPE dereverberation and NMF separation do their job
on signals made the way the harness makes its observations."""
import numpy as np
import pytest
from bench.datasets.synthetic import speech_like
from bench.methods.nmf_separation import split_by_centroid
from scipy.signal import butter, sosfilt

from bench.components.method import RunContext, build_method
from bench.core.audio import Clip, Observation
from bench.corruptions import build_corruption
from bench.metrics import get_metric

SR = 16000


def _restore(name, observation, params=None):
    return build_method(name, params or {}).restore(observation.for_method(), RunContext(device="cpu", seed=0,
                                                                                         protocol={}))


def _si_sdr(reference, estimate):
    return get_metric("si_sdr").compute(reference, estimate, SR)["si_sdr"]


@pytest.mark.parametrize("rt60", [0.2, 0.5])
def test_wpe_raises_the_si_sdr_of_reverberant_speech(rt60):
    x = speech_like(2 * SR, SR, np.random.default_rng(3))
    obs = build_corruption("reverb", {"rt60": rt60}).apply(Clip(x, SR, "x"), np.random.default_rng(0))
    y = _restore("wpe", obs).signal
    assert y.shape == obs.signal.shape
    gain = _si_sdr(obs.reference, y) - _si_sdr(obs.reference, obs.signal)
    assert gain > 0.2  # measured: +0.34 dB at RT60 0.2 s, +0.39 dB at 0.5 s (single channel, 10 taps)
    # No prediction (a delay beyond the clip's frames) leaves the signal as it was: the gain is WPE's.
    unchanged = _restore("wpe", obs, {"delay": 1000}).signal
    assert _si_sdr(obs.reference, unchanged) == pytest.approx(_si_sdr(obs.reference, obs.signal), abs=0.05)


def _two_sources(seed=0):
    """A low harmonic tone of two notes and high-passed noise bursts: distinct spectra, overlapping in time."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    phase = 2 * np.pi * np.cumsum(np.where(t < 0.5, 196.0, 262.0)) / SR
    low = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 5))
    bursts = np.zeros(SR)
    for start in range(0, SR, SR // 8):
        bursts[start:start + 1200] = np.exp(-np.arange(min(1200, SR - start)) / 300)
    high = 0.5 * bursts * sosfilt(butter(6, 3000, "highpass", fs=SR, output="sos"), rng.standard_normal(SR))
    refs = np.stack([low, high]).astype(np.float32)
    return Observation(refs.sum(axis=0), SR, "separation", known={"num_sources": 2}, reference=refs)


def test_nmf_separates_two_sources_with_distinct_spectra_better_than_the_mixture():
    obs = _two_sources()
    y = _restore("nmf-separation", obs).signal
    assert y.shape == obs.reference.shape
    mixture = np.stack([obs.signal, obs.signal])
    for k in range(2):  # low-centroid source first: the tone, then the bursts
        assert _si_sdr(obs.reference[k], y[k]) > _si_sdr(obs.reference[k], mixture[k]) + 4.0
    # the two outputs add up to the mixture (soft masks summing to one)
    np.testing.assert_allclose(y.sum(axis=0), obs.signal, atol=1e-3)


def test_nmf_groups_templates_by_spectral_centroid():
    w = np.zeros((100, 4))
    w[5, 0] = w[10, 1] = w[80, 2] = w[90, 3] = 1.0
    assert split_by_centroid(w).tolist() == [False, False, True, True]
    w[85, 1], w[10, 1] = 1.0, 0.0
    assert split_by_centroid(w).tolist() == [False, True, True, True]


def test_nmf_refuses_other_than_two_sources():
    obs = _two_sources()
    three = Observation(obs.signal, SR, "separation", known={"num_sources": 3}, reference=obs.reference)
    with pytest.raises(ValueError, match="two sources"):
        _restore("nmf-separation", three)


def test_ar_gap_fill_stays_bounded_over_a_long_spectral_hole():
    """0.1-0.25 s holes need thousands of predicted samples: an unstable least-squares predictor diverged
    there (NaN in the cell's estimate) until its poles were reflected inside the unit circle."""
    from bench.datasets.synthetic import piano_like

    peaks = []
    for seed in range(6):
        x = piano_like(SR, SR, np.random.default_rng(seed))
        obs = build_corruption("spectral-holes", {"count": 1, "min_s": 0.2, "max_s": 0.25}).apply(
            Clip(x, SR, "x"), np.random.default_rng(seed))
        y = _restore("ar-gap-fill", obs)
        assert np.all(np.isfinite(y))
        peaks.append(np.max(np.abs(y)) / np.max(np.abs(x)))
    assert max(peaks) < 2.0


def test_stabilised_predictor_keeps_stable_ones_and_reflects_unstable_poles():
    from bench.methods.baselines import _stable

    stable = np.array([0.1, 0.3])
    np.testing.assert_array_equal(_stable(stable), stable)
    np.testing.assert_allclose(_stable(np.array([2.0])), [0.4995])  # x[n] = 2 x[n-1] -> pole 1/2 (x 0.999)
