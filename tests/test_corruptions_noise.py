"""Additive Gaussian and uniform noise: targets hit, determinism, seeds, the DNS-style level option."""
import numpy as np
import pytest
from bench.datasets.synthetic import speech_like

from bench.core.audio import Clip
from bench.corruptions import build_corruption
from bench.metrics.waveform import si_sdr

SR = 16000


@pytest.fixture(scope="module")
def clip():
    x = speech_like(SR, SR, np.random.default_rng(1))
    return Clip(0.6 * x / np.max(np.abs(x)), SR, dataset="synthetic-speech", item="00001")


def corrupt(clip, name, seed=0, **params):
    return build_corruption(name, params).apply(clip, np.random.default_rng(seed))


def measured_snr(obs):
    reference = obs.reference.astype(np.float64)
    noise = obs.signal.astype(np.float64) - reference
    return 10 * np.log10(np.sum(reference**2) / np.sum(noise**2))


def test_gaussian_std_adds_unit_noise_times_std_as_before(clip):
    obs = corrupt(clip, "gaussian-noise", seed=5, std=0.1)
    expected = clip.samples.astype(np.float64) + 0.1 * np.random.default_rng(5).standard_normal(clip.num_samples)
    np.testing.assert_allclose(obs.signal, expected.astype(np.float32))
    assert obs.info["noise_std"] == pytest.approx(0.1, rel=0.03)
    assert obs.info["snr_db"] == pytest.approx(measured_snr(obs), abs=1e-3)


@pytest.mark.parametrize("name", ["gaussian-noise", "uniform-noise"])
@pytest.mark.parametrize("target", [-5.0, 2.5, 10.0])
def test_snr_and_si_snr_targets_are_hit(clip, name, target):
    obs = corrupt(clip, name, snr=target)
    assert measured_snr(obs) == pytest.approx(target, abs=0.01)
    obs = corrupt(clip, name, si_snr=target)
    assert si_sdr(obs.reference.astype(np.float64), obs.signal.astype(np.float64), SR) == pytest.approx(target,
                                                                                                      abs=0.01)
    assert obs.info["si_snr_db"] == pytest.approx(target, abs=1e-6)


def test_uniform_noise_is_uniform_and_gaussian_is_gaussian(clip):
    def kurtosis(obs):
        noise = obs.signal.astype(np.float64) - obs.reference
        return np.mean((noise - noise.mean()) ** 4) / np.var(noise) ** 2

    assert kurtosis(corrupt(clip, "uniform-noise", si_snr=0.0)) == pytest.approx(1.8, abs=0.1)
    assert kurtosis(corrupt(clip, "gaussian-noise", si_snr=0.0)) == pytest.approx(3.0, abs=0.2)


@pytest.mark.parametrize("name, params", [("gaussian-noise", {"std": 0.05}), ("uniform-noise", {"si_snr": 5.0}),
                                          ("gaussian-noise", {"snr": 0.0, "level_dbfs": [-35, -15]})])
def test_deterministic_for_a_seed_and_different_across_seeds(clip, name, params):
    a, b, c = (corrupt(clip, name, seed, **params) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a.signal, b.signal)
    assert not np.allclose(a.signal, c.signal)


def test_level_option_rescales_clean_and_noisy_together(clip):
    for seed in range(5):
        obs = corrupt(clip, "uniform-noise", seed, si_snr=2.5, level_dbfs=[-35, -15])
        rms_db = 20 * np.log10(np.sqrt(np.mean(obs.signal.astype(np.float64) ** 2)))
        assert obs.info["level_dbfs"] == pytest.approx(rms_db, abs=1e-3)
        assert -35 - 1e-6 <= rms_db <= -15 + 1e-6 or np.max(np.abs(obs.signal)) == pytest.approx(0.99, abs=1e-4)
        assert si_sdr(obs.reference.astype(np.float64), obs.signal.astype(np.float64), SR) == pytest.approx(2.5,
                                                                                                          abs=0.01)


def test_loud_levels_are_guarded_against_clipping(clip):
    obs = corrupt(clip, "gaussian-noise", 0, snr=0.0, level_dbfs=[-3, -1])
    assert np.max(np.abs(obs.signal)) == pytest.approx(0.99, abs=1e-4)


@pytest.mark.parametrize("params", [{}, {"std": 0.1, "snr": 3.0}, {"snr": 1.0, "level_dbfs": [-30]}])
def test_bad_parameters_are_refused(params):
    with pytest.raises(ValueError):
        build_corruption("gaussian-noise", params)


def test_ratio_targets_refuse_a_silent_clip():
    with pytest.raises(ValueError, match="silent"):
        corrupt(Clip(np.zeros(1000), SR), "uniform-noise", si_snr=0.0)
