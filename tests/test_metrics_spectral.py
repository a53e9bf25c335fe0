"""Spectral SNR, log-spectral distance, RMS envelope distance and STOI: hand-computed cases and properties."""
import numpy as np
import pytest
from bench.datasets.synthetic import speech_like

from bench.metrics import MetricUndefined, get_metric

SR = 16000


def compute(name, reference, estimate, sr=SR):
    return get_metric(name).compute(reference, estimate, sr)[name]


def numpy_magnitude(x, n_fft, hop):
    """|STFT| with centred frames, zero padding and a periodic Hann window, written without torch."""
    frames = 1 + int(np.ceil(x.size / hop))
    padded = np.zeros((frames - 1) * hop + n_fft)
    padded[n_fft // 2:n_fft // 2 + x.size] = x
    window = np.hanning(n_fft + 1)[:-1]
    stacked = np.stack([padded[k * hop:k * hop + n_fft] * window for k in range(frames)], axis=1)
    return np.abs(np.fft.rfft(stacked, axis=0))


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(4)
    clean = speech_like(SR, SR, rng)
    clean = 0.5 * clean / np.max(np.abs(clean))
    return clean, clean + 0.05 * rng.standard_normal(clean.size)


def test_spectral_snr_equals_the_magnitude_snr_of_a_numpy_stft(speech):
    clean, noisy = speech
    s, s_hat = numpy_magnitude(clean, 1022, 64), numpy_magnitude(noisy, 1022, 64)
    expected = 10 * np.log10(np.sum(s**2) / np.sum((s - s_hat) ** 2))
    assert compute("spectral_snr", clean, noisy) == pytest.approx(expected, abs=1e-6)


def test_spectral_snr_ignores_phase_waveform_snr_does_not(speech):
    clean, _ = speech
    assert compute("spectral_snr", clean, -clean) > 100
    assert compute("snr", clean, -clean) == pytest.approx(-6.02, abs=0.01)


def test_log_spectral_distance_of_a_gain_is_the_gain_in_db():
    x = 0.1 * np.random.default_rng(0).standard_normal(SR)
    assert compute("lsd", x, 2 * x) == pytest.approx(20 * np.log10(2), abs=1e-6)
    assert compute("lsd", x, x) == 0.0


def test_log_spectral_distance_is_symmetric(speech):
    clean, noisy = speech
    assert compute("lsd", clean, noisy) == pytest.approx(compute("lsd", noisy, clean), abs=1e-9)


def test_envelope_distance_of_two_tones_is_their_amplitude_difference():
    t = np.arange(SR) / SR  # 440 whole periods: the analytic signal's envelope is exactly the amplitude
    assert compute("envelope_distance", 0.5 * np.cos(2 * np.pi * 440 * t), 0.2 * np.cos(2 * np.pi * 440 * t)) \
        == pytest.approx(0.3, abs=1e-9)
    # a phase shift leaves the envelope unchanged
    assert compute("envelope_distance", 0.5 * np.cos(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)) \
        == pytest.approx(0.0, abs=1e-9)


def test_envelope_distance_is_symmetric_and_lower_is_better(speech):
    clean, noisy = speech
    assert compute("envelope_distance", clean, noisy) == pytest.approx(compute("envelope_distance", noisy, clean))
    assert get_metric("envelope_distance").outputs[0].higher_is_better is False
    assert compute("envelope_distance", clean, clean + 0.01 * (noisy - clean)) < compute("envelope_distance",
                                                                                         clean, noisy)


def test_stoi_perfect_is_one_it_falls_with_noise_and_ignores_estimate_gain(speech):
    clean, _ = speech
    noise = np.random.default_rng(3).standard_normal(clean.size)
    assert compute("stoi", clean, clean) == pytest.approx(1.0, abs=1e-6)
    values = [compute("stoi", clean, clean + level * noise) for level in (0.01, 0.1, 0.5)]
    assert values[0] > values[1] > values[2]
    assert compute("stoi", clean, 3 * (clean + 0.1 * noise)) == pytest.approx(values[1], abs=1e-9)


def test_stoi_on_too_short_a_clip_is_metric_undefined(speech):
    clean, noisy = speech
    with pytest.raises(MetricUndefined, match="STOI"):
        get_metric("stoi").compute(clean[:2000], noisy[:2000], SR)


def test_expensive_metrics_are_kept_out_of_traces():
    for name in ("pesq_wb", "pesq_nb", "bss_v3", "bss_v4", "stoi"):
        assert get_metric(name).trace_safe is False
    for name in ("si_sdr", "snr", "psnr_peak2", "psnr_maxmin", "spectral_snr", "envelope_distance", "lsd"):
        assert get_metric(name).trace_safe is True
