"""Reverberation: the simulated room's RT60, measured independently, is the target within 6 %."""
import numpy as np
import pytest
from bench.datasets.synthetic import speech_like

from bench.core.audio import Clip
from bench.corruptions import build_corruption
from bench.corruptions.reverb import simulate_room

SR = 16000
TOLERANCE = 0.05  # the corruption's calibration tolerance
MEASUREMENT_SLACK = 0.01  # the two T30 estimators below differ by up to about 1 %


def t30_by_regression(rir: np.ndarray, sr: int) -> float:
    """ISO 3382 T30: least-squares line through the Schroeder decay between -5 and -35 dB, extrapolated to 60 dB.

    pyroomacoustics' measure_rt60 (what the corruption stores) reads two crossing points instead.
    """
    energy = np.cumsum(rir[::-1] ** 2)[::-1]
    decay_db = 10 * np.log10(energy / energy[0])
    fit = np.flatnonzero((decay_db <= -5) & (decay_db >= -35))
    slope, _ = np.polyfit(fit / sr, decay_db[fit], 1)
    return -60.0 / slope


@pytest.fixture(scope="module")
def clip():
    x = speech_like(SR, SR, np.random.default_rng(3))
    return Clip(0.5 * x / np.max(np.abs(x)), SR)


@pytest.mark.parametrize("rt60", [0.1, 0.2, 0.5])
def test_measured_rt60_is_within_tolerance_of_the_target(rt60):
    for seed in range(2):
        room = simulate_room(rt60, SR, np.random.default_rng(seed))
        assert room.rt60_measured == pytest.approx(rt60, rel=TOLERANCE)
        assert t30_by_regression(room.rir, SR) == pytest.approx(rt60, rel=TOLERANCE + MEASUREMENT_SLACK)


def test_room_and_positions_respect_the_ranges():
    room = simulate_room(0.2, SR, np.random.default_rng(4), room_min=(3, 3, 2.5), room_max=(4, 4, 3), margin=0.5,
                         distance_min=1.0, distance_max=2.0)
    assert np.all(room.dims >= [3, 3, 2.5]) and np.all(room.dims <= [4, 4, 3])
    for point in (room.source, room.mic):
        assert np.all(point >= 0.5) and np.all(point <= room.dims - 0.5)
    assert 1.0 <= np.linalg.norm(room.source - room.mic) <= 2.0


def test_observation_stores_the_measured_rt60_and_is_aligned_to_the_direct_path(clip):
    obs = build_corruption("reverb", {"rt60": 0.2}).apply(clip, np.random.default_rng(0))
    assert obs.task == "dereverberation" and obs.signal.shape == clip.samples.shape
    assert obs.info["rt60_measured"] == pytest.approx(0.2, rel=TOLERANCE)
    np.testing.assert_array_equal(obs.reference, clip.samples)
    lags = np.arange(-200, 201)
    xcorr = [np.dot(obs.signal[200:-200], np.roll(clip.samples, lag)[200:-200]) for lag in lags]
    assert lags[int(np.argmax(xcorr))] == 0


def test_deterministic_for_a_seed_and_different_across_seeds(clip):
    reverb = build_corruption("reverb", {"rt60": 0.2})
    a, b, c = (reverb.apply(clip, np.random.default_rng(seed)) for seed in (5, 5, 6))
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.info == b.info
    assert a.info["room_dims"] != c.info["room_dims"] and not np.allclose(a.signal, c.signal)


def test_a_target_no_room_in_range_can_reach_is_a_clear_error():
    with pytest.raises(ValueError, match="widen the room ranges"):
        simulate_room(0.1, SR, np.random.default_rng(0), room_min=(9, 9, 4), room_max=(10, 10, 5))
