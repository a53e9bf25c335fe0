"""Tests that tell the chosen science from plausible-looking wrong science.

Each case uses signals on which the alternative definitions give different numbers (the peak of the wrong
signal, mean-absolute instead of RMS, L2 instead of L1, a loss term switched off, a norm in the wrong place),
and computes the expected value from the definition with numpy, independently of the code under test.
"""
import numpy as np
import pytest
import torch
from bench.methods.dap_separation import DAPSeparationPaper, DAPSeparationTian, exclusion
from bench.methods.networks.spectral_unet import SpectralUNet, make_design
from bench.methods.spectral_priors import UNetExpDense
from bench.methods.waveform_priors import WaveformDemucsPrior

from bench.components.fitting import Problems, Schedule
from bench.core.audio import Clip
from bench.corruptions.noise import GaussianNoise, UniformNoise
from bench.metrics import get_metric
from bench.running.worker import _oracle

SR = 16000


def compute(name, reference, estimate):
    return get_metric(name).compute(reference, estimate, SR)[name]


def problems(**tensors) -> Problems:
    return Problems(observations=[], contexts=[], device=torch.device("cpu"), tensors=tensors)


def numpy_envelope(x):
    """|analytic signal| by the FFT construction (no scipy): double the positive frequencies, drop the negative."""
    spectrum = np.fft.fft(x)
    weights = np.zeros(x.size)
    weights[0] = 1
    weights[1:(x.size + 1) // 2] = 2
    if x.size % 2 == 0:
        weights[x.size // 2] = 1
    return np.abs(np.fft.ifft(spectrum * weights))


# -- metrics -------------------------------------------------------------------------------------------------
def test_psnr_maxmin_takes_its_peak_from_the_reference_as_max_minus_min():
    rng = np.random.default_rng(1)
    reference = 0.2 + 0.3 * np.sin(2 * np.pi * 5 * np.arange(4000) / 4000)  # range [-0.1, 0.5]: max|x| != max-min
    estimate = 1.7 * reference + 0.02 * rng.standard_normal(reference.size)  # a different range than the reference
    mse = np.mean((reference - estimate) ** 2)
    expected = 10 * np.log10((reference.max() - reference.min()) ** 2 / mse)
    assert compute("psnr_maxmin", reference, estimate) == pytest.approx(expected, abs=1e-6)
    # the alternatives are far from it on this pair
    assert abs(expected - 10 * np.log10((estimate.max() - estimate.min()) ** 2 / mse)) > 1
    assert abs(expected - 10 * np.log10(np.max(np.abs(reference)) ** 2 / mse)) > 1
    assert compute("psnr_peak2", reference, estimate) == pytest.approx(10 * np.log10(4 / mse), abs=1e-6)


def test_envelope_distance_is_the_rms_not_the_mean_absolute_envelope_difference():
    t = np.arange(SR) / SR
    carrier = np.cos(2 * np.pi * 400 * t)
    reference = (0.5 + 0.4 * np.cos(2 * np.pi * 3 * t)) * carrier  # amplitude-modulated: the envelope moves
    estimate = 0.6 * carrier
    difference = numpy_envelope(reference) - numpy_envelope(estimate)
    rms, mean_abs = np.sqrt(np.mean(difference**2)), np.mean(np.abs(difference))
    assert rms - mean_abs > 0.02  # the two definitions differ here
    assert compute("envelope_distance", reference, estimate) == pytest.approx(rms, abs=1e-6)


def test_snr_of_a_scaled_estimate_counts_the_scale_si_sdr_does_not():
    rng = np.random.default_rng(2)
    reference = rng.standard_normal(4000)
    reference -= reference.mean()
    estimate = 0.5 * reference  # SI-SDR: perfect; SNR: the error is half the signal, 6.02 dB
    assert compute("snr", reference, estimate) == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-9)
    assert compute("si_sdr", reference, estimate) > 100


def test_spectral_snr_is_on_magnitudes_not_powers():
    t = np.arange(SR // 2) / SR
    reference = 0.5 * np.sin(2 * np.pi * 300 * t)
    estimate = 0.4 * np.sin(2 * np.pi * 300 * t)  # magnitudes 0.8 x the clean: magnitude SNR 10 log10(1/0.04)
    value = compute("spectral_snr", reference, estimate)
    assert value == pytest.approx(10 * np.log10(1 / 0.2**2), abs=0.05)
    assert abs(value - 10 * np.log10(1 / (1 - 0.8**2) ** 2)) > 5  # what the power form would give


def test_the_oracle_keeps_the_minimum_of_a_metric_where_lower_is_better():
    trace = [{"scores": {"si_sdr": 3.0, "envelope_distance": 0.30, "lsd": 2.0}},
             {"scores": {"lsd": None, "si_sdr": 7.0, "envelope_distance": 0.10}},  # a missing score is skipped
             {"scores": {"si_sdr": 5.0, "envelope_distance": 0.20, "lsd": 1.5}}]
    assert _oracle(trace) == {"si_sdr": 7.0, "envelope_distance": 0.10, "lsd": 1.5}


# -- losses: each term is there, with its norm -------------------------------------------------------------
def separation_case(method, seed=0, bins=8, frames=12):
    generator = torch.Generator().manual_seed(seed)
    channels = 4 + 1 if method.sources == "complex" else 2 + 2
    outputs = torch.randn(2, channels, bins, frames, generator=generator)
    mixture = torch.randn(2, 2, bins, frames, generator=generator)
    return outputs, problems(spectrogram=mixture)


def separation_terms(outputs, mixture):
    """The paper form's loss terms from the module docstring, in numpy (complex sources, one complementary mask)."""
    o, x = outputs.double().numpy(), mixture.double().numpy()
    sources = o[:, :4].reshape(o.shape[0], 2, 2, *o.shape[2:])
    magnitudes = np.sqrt((sources**2).sum(2) + 1e-6)
    m = 1 / (1 + np.exp(-o[:, 4:5]))
    masks = np.concatenate([m, 1 - m], axis=1)
    fitted = (masks[:, :, None] * sources).sum(1)
    reconstruction = np.abs(fitted - x).mean((1, 2, 3))
    smoothness = np.abs(np.diff(magnitudes, axis=-1)).mean((1, 2, 3))
    spread = np.abs(masks - 0.5).mean((2, 3))
    binary = (1 / (1e-6 + spread)).mean(1)
    return reconstruction, smoothness, binary, masks * magnitudes


def numpy_exclusion(a, b, levels=3):
    terms = []
    for level in range(levels):
        for axis in (-2, -1):
            ga, gb = (2 / (1 + np.exp(-np.diff(v, axis=axis))) - 1 for v in (a, b))
            terms.append(((ga**2 * gb**2).mean((-2, -1)) + 1e-8) ** 0.25)
        h, w = a.shape[-2] // 2 * 2, a.shape[-1] // 2 * 2
        pool = lambda v: v[..., :h, :w].reshape(*v.shape[:-2], h // 2, 2, w // 2, 2).mean((-3, -1))  # noqa: E731
        a, b = pool(a), pool(b)
    return np.mean(terms, axis=0)


def test_separation_loss_is_l1_reconstruction_plus_smoothness_plus_exclusion():
    method = DAPSeparationPaper(prior="conv")
    outputs, probs = separation_case(method)
    reconstruction, smoothness, _, masked = separation_terms(outputs, probs.tensors["spectrogram"])
    expected = reconstruction + smoothness + numpy_exclusion(masked[:, 0], masked[:, 1])
    loss = method.objective(outputs, probs, step=0, schedule=Schedule(iterations=100)).double().numpy()
    assert loss == pytest.approx(expected, rel=1e-5)
    # an L2 reconstruction would differ by far more than the tolerance on these numbers
    o, x = outputs.double().numpy(), probs.tensors["spectrogram"].double().numpy()
    m = 1 / (1 + np.exp(-o[:, 4:5]))
    fitted = m * o[:, 0:2] + (1 - m) * o[:, 2:4]
    assert np.all(np.abs(((fitted - x) ** 2).mean((1, 2, 3)) - reconstruction) > 0.1)


def test_numpy_exclusion_agrees_with_the_module_on_uneven_sizes():
    generator = torch.Generator().manual_seed(3)
    a, b = torch.randn(2, 1, 10, 14, generator=generator), torch.randn(2, 1, 10, 14, generator=generator)
    assert exclusion(a, b).double().numpy() == pytest.approx(numpy_exclusion(a[:, 0].double().numpy(),
                                                                             b[:, 0].double().numpy()), rel=1e-5)


@pytest.mark.parametrize("term", ["reconstruction", "smoothness", "exclusion"])
def test_each_separation_weight_moves_the_loss_by_its_term(term):
    outputs, probs = separation_case(DAPSeparationPaper(prior="conv"), seed=5)
    reconstruction, smoothness, _, masked = separation_terms(outputs, probs.tensors["spectrogram"])
    value = {"reconstruction": reconstruction, "smoothness": smoothness,
             "exclusion": numpy_exclusion(masked[:, 0], masked[:, 1])}[term]
    schedule = Schedule(iterations=100)
    full = DAPSeparationPaper(prior="conv").objective(outputs, probs, 0, schedule).double().numpy()
    without = DAPSeparationPaper(prior="conv", weights={term: 0.0}).objective(outputs, probs, 0, schedule)
    doubled = DAPSeparationPaper(prior="conv", weights={term: 2.0}).objective(outputs, probs, 0, schedule)
    assert np.all(value > 1e-3)
    assert full - without.double().numpy() == pytest.approx(value, rel=1e-4)
    assert doubled.double().numpy() - full == pytest.approx(value, rel=1e-4)


def test_binarisation_adds_its_term_from_the_last_tenth_on():
    method = DAPSeparationPaper(prior="conv")
    outputs, probs = separation_case(method, seed=7)
    _, _, binary, _ = separation_terms(outputs, probs.tensors["spectrogram"])
    schedule = Schedule(iterations=100)
    early, before, late = (method.objective(outputs, probs, step, schedule).double().numpy()
                           for step in (0, 89, 90))
    assert before == pytest.approx(early, rel=1e-6)
    assert late - early == pytest.approx(0.01 * binary, rel=1e-4)


def test_independent_masks_add_the_nonzero_mask_term():
    method = DAPSeparationTian(prior="conv")
    outputs, probs = separation_case(method, seed=9)
    schedule = Schedule(iterations=100)
    full = method.objective(outputs, probs, 0, schedule).double().numpy()
    without = DAPSeparationTian(prior="conv", weights={"nonzero_mask": 0.0}).objective(outputs, probs, 0, schedule)
    o, x = outputs.double().numpy(), probs.tensors["spectrogram"].double().numpy()
    gates = 1 / (1 + np.exp(-o[:, 2:4].mean(2, keepdims=True)))  # temporal masks: frequency-averaged logits
    weight = np.clip(np.log1p(np.sqrt((x**2).sum(1) + 1e-6)), 0, 1)
    expected = (weight / (np.minimum(gates.sum(1), 1.0) + 1e-6)).mean((1, 2))
    assert full - without.double().numpy() == pytest.approx(expected, rel=1e-4)


def test_spectral_prior_loss_is_the_mse_over_the_known_frames():
    generator = torch.Generator().manual_seed(11)
    outputs, target = torch.randn(1, 2, 6, 10, generator=generator), torch.randn(1, 2, 6, 10, generator=generator)
    frame_mask = torch.tensor([[1, 1, 0, 0, 1, 1, 1, 0, 1, 1]], dtype=torch.float32)
    loss = UNetExpDense().objective(outputs, problems(spectrogram=target, frame_mask=frame_mask), 0,
                                    Schedule(iterations=10))
    known = frame_mask[0].numpy().astype(bool)
    difference = (outputs - target).double().numpy()[0][:, :, known]
    assert loss.item() == pytest.approx(np.mean(difference**2), rel=1e-5)
    assert abs(np.mean(difference**2) - np.mean(np.abs(difference))) > 0.1  # not an L1
    assert abs(np.mean(difference**2) - np.mean((outputs - target).double().numpy() ** 2)) > 0.01  # mask matters


def test_waveform_prior_loss_is_the_l1_over_the_known_samples():
    method = WaveformDemucsPrior()
    generator = torch.Generator().manual_seed(12)
    signal = torch.randn(1, 64, generator=generator)
    outputs = torch.randn(1, 1, 64, generator=generator) * 2
    mask = (torch.arange(64) % 5 != 0).float()[None]
    loss = method.objective(outputs, problems(signal=signal, mask=mask), 0, Schedule(iterations=10)).item()
    error = (outputs[0, 0] - signal[0]).double().numpy()[mask[0].numpy().astype(bool)]
    assert loss == pytest.approx(np.mean(np.abs(error)), rel=1e-5)
    assert abs(np.mean(np.abs(error)) - np.mean(error**2)) > 0.5  # not an L2


# -- the spectral prior's output clipping ------------------------------------------------------------------
def test_spectral_prior_estimate_is_clipped_to_unit_range_and_left_alone_inside():
    signal = torch.from_numpy((1.6 * np.sin(2 * np.pi * 250 * np.arange(8192) / SR)).astype(np.float32))
    clipped_method, raw_method = UNetExpDense(), UNetExpDense(clip=False)
    outputs = clipped_method.frame.analyse(signal)[None]
    probs = problems(signal=signal[None])
    raw = raw_method.signals(outputs, probs)[0].numpy()
    clipped = clipped_method.signals(outputs, probs)[0].numpy()
    assert raw.max() > 1.5 and raw.min() < -1.5
    assert clipped.max() == 1.0 and clipped.min() == -1.0
    np.testing.assert_array_equal(clipped, np.clip(raw, -1.0, 1.0))


# -- the spectral U-Net's normalisation layout --------------------------------------------------------------
def _is_instance_norm(module) -> bool:
    """Instance norm without affine parameters, as InstanceNorm2d or as the same function in group-norm form
    (one group per channel: what the U-Net builds, for its faster kernels)."""
    if isinstance(module, torch.nn.InstanceNorm2d):
        return not module.affine
    return (isinstance(module, torch.nn.GroupNorm) and module.num_groups == module.num_channels
            and not module.affine)


@pytest.mark.parametrize("layout", ["paper", "released"])
def test_instance_norm_without_affine_in_the_encoder_and_bottleneck_none_in_the_decoder(layout):
    net = SpectralUNet(make_design("exp-dense", layout=layout))
    norms = lambda block: [block.unit1.norm, block.unit2.norm]  # noqa: E731
    for block in [*net.encoder, net.bottleneck]:
        for norm in norms(block):
            assert _is_instance_norm(norm)
    for block in net.decoder:
        assert all(isinstance(norm, torch.nn.Identity) for norm in norms(block))
    for unit in net.upsample_convs:
        assert isinstance(unit.norm, torch.nn.Identity)
    normalisers = (torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.InstanceNorm2d)
    found = [m for m in net.modules() if isinstance(m, normalisers)]
    assert all(_is_instance_norm(m) for m in found)  # no batch, layer or other group norm anywhere
    assert len(found) == 2 * (len(net.encoder) + 1)


def test_an_encoder_unit_is_gain_invariant_a_decoder_unit_is_not():
    # InstanceNorm sits after the convolution and before the ReLU: it removes the conv's bias and any positive
    # gain of the input. Without it (the decoder), the output scales with the input.
    torch.manual_seed(0)
    net = SpectralUNet(make_design("exp-dense"))
    x = torch.randn(1, net.encoder[0].unit1.conv.in_channels, 16, 16)
    encoder_unit = net.encoder[0].unit1
    assert torch.allclose(encoder_unit(3.0 * x), encoder_unit(x), atol=1e-4)
    decoder_unit = net.decoder[-1].unit1
    y = torch.randn(1, decoder_unit.conv.in_channels, 16, 16)
    assert not torch.allclose(decoder_unit(3.0 * y), decoder_unit(y), atol=1e-2)


# -- the noise corruption ------------------------------------------------------------------------------------
def tone_clip(offset=0.0, seconds=0.5):
    t = np.arange(int(SR * seconds)) / SR
    return Clip((offset + 0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR, "tone", "0")


@pytest.mark.parametrize("target", [3.0, -20.0])  # -20 dB needs a noise gain above 1
def test_si_snr_target_is_hit_on_a_clip_with_an_offset(target):
    # SI-SNR is computed on zero-mean signals: the gain must remove the clip's mean, not add it
    clip = tone_clip(offset=0.4)
    observation = GaussianNoise(si_snr=target).apply(clip, np.random.default_rng(0))
    clean, noisy = clip.samples.astype(np.float64), observation.signal.astype(np.float64)
    s, e = clean - clean.mean(), noisy - noisy.mean()
    projection = np.dot(e, s) / np.dot(s, s) * s
    assert 10 * np.log10(np.sum(projection**2) / np.sum((e - projection) ** 2)) == pytest.approx(target, abs=1e-3)


def test_uniform_noise_is_symmetric_about_zero():
    clip = tone_clip()
    observation = UniformNoise(snr=0.0).apply(clip, np.random.default_rng(1))
    noise = observation.signal.astype(np.float64) - clip.samples
    assert abs(noise.mean()) < 0.02 * noise.std()
    assert noise.max() == pytest.approx(-noise.min(), rel=0.01)


def test_noise_of_a_given_std_on_a_silent_clip_is_the_noise_and_keeps_rate_and_task():
    clip = Clip(np.zeros(4000, dtype=np.float32), SR, "silence", "0")
    observation = GaussianNoise(std=0.1).apply(clip, np.random.default_rng(2))
    assert observation.signal.std() == pytest.approx(0.1, rel=0.05)
    assert observation.sr == SR and observation.task == "denoising"
    assert np.isnan(observation.info["si_snr_db"])  # undefined on silence, recorded as NaN


def test_level_dbfs_scales_clean_and_noisy_by_one_gain_to_the_drawn_level():
    clip = tone_clip()
    for seed in range(4):
        observation = GaussianNoise(std=0.05, level_dbfs=[-30, -20]).apply(clip, np.random.default_rng(seed))
        noisy, reference, info = observation.signal.astype(np.float64), observation.reference, observation.info
        level = 20 * np.log10(np.sqrt(np.mean(noisy**2)))
        assert -30 <= level <= -20 and info["level_dbfs"] == pytest.approx(level, abs=1e-4)
        gain = info["level_gain"]
        np.testing.assert_allclose(reference, clip.samples * gain, rtol=1e-5, atol=1e-8)
        assert info["noise_std"] == pytest.approx(np.std(noisy - reference), rel=1e-3)
    fixed = GaussianNoise(std=0.05, level_dbfs=[-25, -25]).apply(clip, np.random.default_rng(0)).signal
    assert 20 * np.log10(np.sqrt(np.mean(fixed.astype(np.float64) ** 2))) == pytest.approx(-25, abs=1e-4)


def test_the_noise_parameters_are_the_corruptions_recorded_params():
    assert GaussianNoise(std=0.1).params == {"std": 0.1, "snr": None, "si_snr": None}
    assert GaussianNoise(snr=5.0, level_dbfs=(-30, -20)).params == {"std": None, "snr": 5.0, "si_snr": None,
                                                                     "level_dbfs": [-30, -20]}
