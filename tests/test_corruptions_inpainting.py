"""Spectral holes and waveform gaps: exact lengths, honest masks, placement, determinism."""
import numpy as np
import pytest
import torch
from bench.datasets.synthetic import speech_like

from bench.core.audio import Clip
from bench.core.stft import SpectralFrame
from bench.corruptions import build_corruption

SR = 16000


@pytest.fixture(scope="module")
def clip():
    x = speech_like(2 * SR, SR, np.random.default_rng(6))
    return Clip(0.5 * x / np.max(np.abs(x)), SR)


def runs_of_zeros(mask):
    edges = np.diff(np.concatenate([[1], mask, [1]]))
    return list(zip(np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)))


def corrupt(clip, name, seed=0, **params):
    return build_corruption(name, params).apply(clip, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", range(4))
def test_spectral_holes_have_the_drawn_lengths_exactly_and_within_range(clip, seed):
    obs = corrupt(clip, "spectral-holes", seed, count=3)
    runs = runs_of_zeros(obs.known["mask"])
    starts, lengths = obs.info["hole_starts"], obs.info["hole_samples"]
    if len(runs) == 3:  # holes may touch and merge into one run; then check the union
        assert [(int(a), int(b - a)) for a, b in runs] == list(zip(starts, lengths))
    assert int(np.sum(obs.known["mask"] == 0)) == sum(lengths)
    assert all(int(round(0.1 * SR)) <= n <= int(round(0.25 * SR)) for n in lengths)
    assert all(a + n <= b for a, n, b in zip(starts, lengths, starts[1:]))  # no overlap
    assert np.all(obs.signal[obs.known["mask"] == 0] == 0)
    np.testing.assert_array_equal(obs.signal[obs.known["mask"] == 1], clip.samples[obs.known["mask"] == 1])


def test_frame_mask_marks_exactly_the_frames_that_see_clean_data(clip):
    # a little noise, so that no zeroed sample was already zero (speech_like has exact silences)
    clip = Clip(clip.samples + 1e-3 * np.random.default_rng(0).standard_normal(clip.num_samples), SR)
    obs = corrupt(clip, "spectral-holes", 1, count=2)
    frame = SpectralFrame(n_fft=obs.known["stft"]["n_fft"], hop=obs.known["stft"]["hop"])
    frame_mask = obs.known["frame_mask"]
    assert frame_mask.shape == (frame.frames(clip.num_samples),)
    clean = frame.analyse(torch.from_numpy(clip.samples.astype(np.float64))).numpy()
    observed = frame.analyse(torch.from_numpy(obs.signal.astype(np.float64))).numpy()
    differs = np.abs(clean - observed).max(axis=(0, 1)) > 1e-9
    np.testing.assert_array_equal(differs, frame_mask == 0)  # observed frames are exact, the rest are not


def test_spectral_holes_are_deterministic_for_a_seed_and_differ_across_seeds(clip):
    a, b, c = (corrupt(clip, "spectral-holes", seed) for seed in (2, 2, 3))
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.info == b.info and a.info["hole_starts"] != c.info["hole_starts"]


def test_spectral_holes_that_cannot_fit_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        corrupt(Clip(np.ones(SR // 4), SR), "spectral-holes", count=2, min_s=0.2, max_s=0.2)


@pytest.mark.parametrize("ms, samples", [(1, 16), (2, 32), (5, 80)])
def test_waveform_gaps_are_exactly_the_length_asked(clip, ms, samples):
    obs = corrupt(clip, "waveform-gap", 0, ms=ms, count=3)
    runs = runs_of_zeros(obs.known["mask"])
    assert obs.info["gap_samples"] == samples
    assert int(np.sum(obs.known["mask"] == 0)) == 3 * samples
    assert all((b - a) % samples == 0 for a, b in runs)  # adjacent gaps may merge, never overlap
    np.testing.assert_array_equal(obs.signal[obs.known["mask"] == 0], 0)


def test_waveform_gaps_are_placed_on_non_silent_parts():
    x = np.zeros(SR)
    x[SR // 2:] = np.sin(2 * np.pi * 200 * np.arange(SR // 2) / SR)
    for seed in range(10):
        obs = corrupt(Clip(x, SR), "waveform-gap", seed, ms=5, count=2)
        assert all(start >= SR // 2 for start in obs.info["gap_starts"])


def test_waveform_gaps_are_deterministic_for_a_seed_and_differ_across_seeds(clip):
    a, b, c = (corrupt(clip, "waveform-gap", seed, ms=2, count=2) for seed in (7, 7, 8))
    np.testing.assert_array_equal(a.known["mask"], b.known["mask"])
    assert a.info["gap_starts"] != c.info["gap_starts"]


def test_waveform_gap_refuses_a_silent_clip():
    with pytest.raises(ValueError, match="silent"):
        corrupt(Clip(np.zeros(SR), SR), "waveform-gap", ms=1)


@pytest.mark.parametrize("seed", range(3))
def test_the_gap_mask_is_zero_exactly_from_each_recorded_gap_start(clip, seed):
    """The mask, the zeroed samples and the recorded ``gap_starts`` agree sample for sample (a mask shifted
    by one sample from the recorded starts scores the wrong samples)."""
    obs = corrupt(clip, "waveform-gap", seed, ms=2, count=3)
    length = obs.info["gap_samples"]
    expected = np.ones(clip.num_samples, dtype=np.float32)
    for start in obs.info["gap_starts"]:
        expected[start:start + length] = 0.0
    np.testing.assert_array_equal(obs.known["mask"], expected)
    np.testing.assert_array_equal(obs.signal, clip.samples * expected)
