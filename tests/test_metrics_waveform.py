"""SI-SDR, SNR and the PSNR variants against hand-computed values and their invariances."""
import numpy as np
import pytest

from bench.metrics import get_metric, output_spec


def compute(name, reference, estimate, sr=16000):
    return get_metric(name).compute(reference, estimate, sr)[name]


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    reference = np.sin(2 * np.pi * 220 * np.arange(8000) / 8000) * 0.5 + 0.05 * rng.standard_normal(8000)
    estimate = 0.8 * reference + 0.1 * rng.standard_normal(8000) + 0.01
    return reference, estimate


def test_si_sdr_equals_the_correlation_formula(pair):
    # For zero-mean signals SI-SDR = 10 log10(rho^2 / (1 - rho^2)), rho the Pearson correlation:
    # a formula that shares no code with the projection the metric uses.
    reference, estimate = pair
    rho = np.corrcoef(reference, estimate)[0, 1]
    assert compute("si_sdr", reference, estimate) == pytest.approx(10 * np.log10(rho**2 / (1 - rho**2)), abs=1e-9)


def test_si_sdr_is_scale_invariant_and_symmetric_snr_is_neither(pair):
    reference, estimate = pair
    base = compute("si_sdr", reference, estimate)
    assert compute("si_sdr", reference, 3.7 * estimate) == pytest.approx(base, abs=1e-9)
    assert compute("si_sdr", 0.2 * reference, estimate) == pytest.approx(base, abs=1e-9)
    assert compute("si_sdr", estimate, reference) == pytest.approx(base, abs=1e-9)
    snr = compute("snr", reference, estimate)
    assert compute("snr", reference, 3.7 * estimate) != pytest.approx(snr, abs=0.1)
    assert compute("snr", estimate, reference) != pytest.approx(snr, abs=0.1)


def test_snr_hand_computed():
    reference = np.array([1.0, -1.0, 1.0, -1.0])
    estimate = reference + np.array([0.1, 0.0, -0.1, 0.0])
    assert compute("snr", reference, estimate) == pytest.approx(10 * np.log10(4 / 0.02), abs=1e-9)


def test_psnr_variants_hand_computed():
    reference = np.linspace(-0.3, 0.5, 1000)
    estimate = reference + 0.01  # MSE 1e-4
    assert compute("psnr_peak2", reference, estimate) == pytest.approx(20 * np.log10(2) + 40, abs=1e-6)
    assert compute("psnr_maxmin", reference, estimate) == pytest.approx(20 * np.log10(0.8) + 40, abs=1e-6)


def test_psnr_peak2_ignores_the_signal_range_psnr_maxmin_follows_it():
    reference = np.linspace(-0.3, 0.5, 1000)
    estimate = reference + 0.01
    assert compute("psnr_peak2", 0.5 * reference, 0.5 * reference + 0.01) == pytest.approx(
        compute("psnr_peak2", reference, estimate), abs=1e-9)
    assert compute("psnr_maxmin", 0.5 * reference, 0.5 * reference + 0.01) == pytest.approx(
        compute("psnr_maxmin", reference, estimate) - 20 * np.log10(2), abs=1e-6)


@pytest.mark.parametrize("name", ["si_sdr", "snr", "psnr_peak2", "psnr_maxmin"])
def test_a_perfect_estimate_scores_very_high_and_finite(name, pair):
    reference, _ = pair
    value = compute(name, reference, reference.copy())
    assert np.isfinite(value) and value > 100


def test_improvements_are_registered_on_their_base():
    assert get_metric("psnr_i").base == "psnr_peak2"
    assert get_metric("psnr_maxmin_i").base == "psnr_maxmin"
    assert get_metric("si_sdr_i").base == "si_sdr"
    assert get_metric("snr_i").base == "snr"
    for name in ("psnr_i", "psnr_maxmin_i"):
        with pytest.raises(TypeError):
            get_metric(name).compute(np.ones(4), np.ones(4), 16000)


def test_per_source_metrics_keep_each_source_beside_the_mean(pair):
    reference, estimate = pair
    references = np.stack([reference, estimate])
    estimates = np.stack([estimate, estimate + 0.3])
    scores = get_metric("snr").compute(references, estimates, 16000)
    first, second = compute("snr", reference, estimate), compute("snr", estimate, estimate + 0.3)
    assert scores["snr_src1"] == pytest.approx(first)
    assert scores["snr_src2"] == pytest.approx(second)
    assert scores["snr"] == pytest.approx((first + second) / 2)
    assert output_spec("snr_src2") is output_spec("snr")
    assert output_spec("envelope_distance_src1").higher_is_better is False


@pytest.mark.parametrize("kind", ["silent", "constant"])
def test_a_silent_or_constant_estimate_has_no_si_sdr_and_cannot_win_the_oracle(pair, kind):
    from bench.metrics import evaluate
    from bench.running.worker import _oracle

    reference = pair[0]
    poor = 0.1 * reference + 0.3 * np.random.default_rng(3).standard_normal(reference.size)  # about -6 dB
    flat = np.zeros_like(reference) if kind == "silent" else np.full_like(reference, 0.2)
    metrics = [get_metric("si_sdr"), get_metric("snr")]
    scores, errors = evaluate(metrics, reference, flat, 16000)
    assert scores["si_sdr"] is None and errors["si_sdr"] == f"SI-SDR is undefined for a {kind} estimate"
    assert scores["snr"] is not None  # SNR of a flat estimate is a real number (0 dB for silence)
    poor_scores, _ = evaluate(metrics, reference, poor, 16000)
    assert poor_scores["si_sdr"] < 0
    trace = [{"iteration": 1, "scores": poor_scores}, {"iteration": 2, "scores": scores}]
    assert _oracle(trace)["si_sdr"] == poor_scores["si_sdr"]  # the undefined score does not win the maximum


@pytest.mark.parametrize("name, reference, reason", [
    ("snr", np.zeros(8000), "SNR is undefined for a silent reference"),
    ("si_sdr", np.full(8000, 0.1), "SI-SDR is undefined for a constant reference"),
    ("spectral_snr", np.zeros(8000), "spectral SNR is undefined for a silent reference"),
    ("psnr_maxmin", np.full(8000, 0.1), "psnr_maxmin is undefined for a constant reference"),
])
def test_ratios_against_a_silent_or_constant_reference_are_undefined(pair, name, reference, reason):
    from bench.metrics import evaluate

    scores, errors = evaluate([get_metric(name)], reference, pair[1], 16000)
    assert scores[name] is None and errors[name] == reason
    # ... while the same metric scores a reference with content
    assert evaluate([get_metric(name)], pair[0], pair[1], 16000)[0][name] is not None
