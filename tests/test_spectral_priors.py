"""Spectral U-Net priors: shapes, dilation schedules, dense channel counts, parameter counts, harmonic
convolution against a direct implementation, the inpainting mask in the loss, batched cells in the worker."""
import numpy as np
import pytest
import torch
from bench.methods.networks.harmonic_conv import HarmonicConv2d
from bench.methods.networks.spectral_unet import DESIGNS, LAYOUTS, SpectralUNet, instance_norm, make_design

from bench.components.dataset import build_dataset
from bench.components.fitting import Problems, Schedule
from bench.components.method import build_method
from bench.core.audio import Observation
from bench.core.registry import METHODS
from bench.corruptions import build_corruption
from bench.planning.cells import expand
from bench.planning.suite import parse_suite
from bench.running.worker import run_cells

PRIORS = ["unet-conv", "unet-dilated", "unet-exp", "unet-exp-dense", "unet-harmonic"]


def _blocks(net):
    return [*net.encoder, net.bottleneck, *net.decoder]


def _dilations(net):
    def of(conv):
        return conv.time_dilation if isinstance(conv, HarmonicConv2d) else conv.dilation[0]

    return tuple((of(b.unit1.conv), of(b.unit2.conv)) for b in _blocks(net))


@pytest.mark.parametrize("design", list(DESIGNS))
def test_output_has_the_input_spectrogram_shape(design):
    net = SpectralUNet(make_design(design))
    assert net(torch.randn(1, 2, 64, 32)).shape == (1, 2, 64, 32)


def test_method_input_is_the_observations_stft_shape():
    prior = build_method("unet-exp-dense")
    obs = Observation(np.zeros(16000, np.float32), 16000, "denoising")
    assert prior.input_shape(obs) == (2, 512, 252)


@pytest.mark.parametrize("design,layout,expected", [
    ("conv", "paper", ((1, 1),) * 5),
    ("dilated", "paper", ((4, 4),) * 5),
    ("exp", "paper", ((2, 4), (8, 16), (32, 32), (16, 8), (4, 2))),
    ("exp-dense", "paper", ((2, 4), (8, 16), (32, 32), (16, 8), (4, 2))),
    ("exp-dense", "released", ((1, 2), (4, 8), (16, 32), (32, 16), (8, 4))),
    ("harmonic", "paper", ((1, 1),) * 5),
])
def test_dilation_schedule_of_the_built_convolutions(design, layout, expected):
    assert _dilations(SpectralUNet(make_design(design, layout=layout))) == expected


def test_constant_dilation_factor_is_a_parameter():
    assert _dilations(SpectralUNet(make_design("dilated", dilation_factor=2))) == ((2, 2),) * 5


def _conv(i, o, k=3):
    return i * o * k * k + o


def _expected_parameters(layout_name: str, dense: bool) -> int:
    """Parameter count from the paper's widths, written out independently of the network code."""
    layout = LAYOUTS[layout_name]
    total, channels, skips = 0, 2, []

    def block(i, widths):
        a, b = widths
        if not dense:
            return _conv(i, a) + _conv(a, b), b, b
        return _conv(i, a) + _conv(i + a, b) + _conv(i + a + b, b, 1), b, i + a + b

    for widths in layout.encoder:
        count, channels, features = block(channels, widths)
        total += count
        skips.append(features if layout.skip == "features" else channels)
    count, channels, _ = block(channels, layout.bottleneck)
    total += count
    for widths in layout.decoder:
        if layout.upsample_conv:
            total += _conv(channels, widths[0])
            channels = widths[0]
        count, channels, _ = block(channels + skips.pop(), widths)
        total += count
    return total + _conv(channels, 2, 1)


@pytest.mark.parametrize("design,dense", [("conv", False), ("exp", False), ("exp-dense", True)])
@pytest.mark.parametrize("layout", ["paper", "released"])
def test_parameter_counts(design, dense, layout):
    net = SpectralUNet(make_design(design, layout=layout))
    assert net.describe()["parameters"] == sum(p.numel() for p in net.parameters()) \
        == _expected_parameters(layout, dense)


def test_released_layout_has_the_public_codes_size():
    # The public dense U-Net has "about 1.1 M parameters" (its README).
    count = SpectralUNet(make_design("exp-dense", layout="released")).describe()["parameters"]
    assert 1.05e6 < count < 1.15e6


def test_dense_block_channel_counts():
    net = SpectralUNet(make_design("exp-dense"))
    # (input, conv1 out, conv2 in, conv2 out, features, transition out) per block, paper widths.
    expected = [(2, 35, 37, 70, 107, 70), (70, 70, 140, 140, 280, 140), (140, 70, 210, 70, 280, 70),
                (70 + 140, 140, 350, 70, 420, 70), (70 + 70, 70, 210, 35, 245, 35)]
    for block, (i, a, c2_in, b, features, out) in zip(_blocks(net), expected):
        assert (block.unit1.conv.in_channels, block.unit1.conv.out_channels) == (i, a)
        assert (block.unit2.conv.in_channels, block.unit2.conv.out_channels) == (c2_in, b)
        assert block.feature_channels == features
        assert (block.transition.in_channels, block.transition.out_channels, block.transition.kernel_size) \
            == (features, out, (1, 1))


def test_plain_blocks_have_no_transition():
    assert all(b.transition is None for b in _blocks(SpectralUNet(make_design("exp"))))


def test_details_report_parameters_schedule_and_channels():
    for name in PRIORS:
        details = METHODS.get(name).obj().details()
        assert details["parameters"] > 100_000
        assert "dilations" in details and "blocks" in details
    assert METHODS.get("unet-exp-dense").obj().details()["dilations"] == "2,4 8,16 32,32 16,8 4,2"


def test_every_design_and_the_separation_methods_are_registered():
    for name in PRIORS:
        assert set(METHODS.get(name).meta["tasks"]) == {"denoising", "inpainting"}
    for name in ("dap-separation", "dap-separation-tian"):
        assert METHODS.get(name).meta["tasks"] == ("separation",)


# -- harmonic convolution ------------------------------------------------------------------------------
def _harmonic_direct(x, weight, bias, ratios, time_kernel):
    """y[o, w, t] = b[o] + sum_c sum_r sum_tau W[o, c, r, tau] x_c[ratio_r * w, t + tau - half], x linearly
    interpolated along frequency and zero beyond its last bin and outside the time range."""
    channels, bins, frames = x.shape
    out = np.zeros((weight.shape[0], bins, frames))
    half = time_kernel // 2
    padded = np.concatenate([x, np.zeros((channels, 2, frames))], axis=1)  # zeros beyond the top bin
    for o in range(weight.shape[0]):
        for w in range(bins):
            for t in range(frames):
                acc = bias[o]
                for c in range(channels):
                    for r, ratio in enumerate(ratios):
                        p = ratio * w
                        lo = int(np.floor(p))
                        if lo > bins - 1:
                            continue
                        value_at = padded[c, lo] * (1 - (p - lo)) + padded[c, lo + 1] * (p - lo)
                        for tau in range(time_kernel):
                            s = t + tau - half
                            if 0 <= s < frames:
                                acc += weight[o, c * len(ratios) + r, 0, tau] * value_at[s]
                out[o, w, t] = acc
    return out


def test_harmonic_convolution_matches_the_direct_formula():
    torch.manual_seed(0)
    layer = HarmonicConv2d(2, 3, harmonics=3, anchors=(1, 2), time_kernel=3).double()
    x = torch.randn(1, 2, 12, 5, dtype=torch.float64)
    ours = layer(x)[0].detach().numpy()
    direct = _harmonic_direct(x[0].numpy(), layer.conv.weight.detach().numpy(), layer.conv.bias.detach().numpy(),
                              layer.ratios, 3)
    assert layer.ratios == (1, 2, 3, 0.5, 1, 1.5)
    assert np.allclose(ours, direct, atol=1e-12)


def test_harmonic_convolution_with_one_harmonic_is_a_time_convolution():
    layer = HarmonicConv2d(2, 4, harmonics=1, anchors=(1,), time_kernel=3)
    x = torch.randn(1, 2, 16, 8)
    plain = torch.nn.functional.conv2d(x, layer.conv.weight, layer.conv.bias, padding=(0, 1))
    assert torch.allclose(layer(x), plain, atol=1e-6)


# -- the inpainting mask in the loss ---------------------------------------------------------------------
def _gap_observation(signal, mask):
    return Observation((signal * mask).astype(np.float32), 16000, "inpainting", known={"mask": mask})


@pytest.mark.parametrize("domain", ["spectral", "waveform"])
def test_inpainting_loss_ignores_the_observation_inside_the_gap(domain):
    prior = build_method("unet-conv", {"loss_domain": domain})
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(4000).astype(np.float32) * 0.3
    mask = np.ones(4000, np.float32)
    mask[1500:2300] = 0
    outputs = torch.randn(1, *prior.input_shape(_gap_observation(signal, mask)), requires_grad=True)

    def loss_for(obs):
        problems = Problems([obs], [None], torch.device("cpu"),
                            {k: v[None] for k, v in prior.problem_tensors(obs).items()})
        return prior.objective(outputs, problems, 0, Schedule(iterations=1))

    base = loss_for(_gap_observation(signal, mask))
    # What a corruption leaves inside a gap (zeros, noise, anything) must not matter to the loss.
    filled = Observation(signal.copy(), 16000, "inpainting", known={"mask": mask})
    assert torch.equal(loss_for(filled), base)
    changed = signal.copy()
    changed[500] += 1.0  # a known sample
    assert not torch.allclose(loss_for(_gap_observation(changed, mask)), base)
    if domain == "spectral":  # no gradient on the frames that touch the gap
        base.sum().backward()
        unknown = torch.from_numpy(prior.frame.frame_mask(mask) == 0)
        assert unknown.sum() > 0
        assert torch.all(outputs.grad[..., unknown] == 0) and torch.any(outputs.grad[..., ~unknown] != 0)


def test_the_spectral_holes_frame_mask_is_used_when_it_fits():
    clip = build_dataset("synthetic-speech").load("09001", sr=16000, seconds=1.0, rng=np.random.default_rng(0))
    obs = build_corruption("spectral-holes", {"count": 1}).apply(clip, np.random.default_rng(1))
    prior = build_method("unet-exp-dense")
    frames = prior.frame_mask(obs, prior.sample_mask(obs))
    assert np.array_equal(frames, obs.known["frame_mask"]) and 0 < frames.sum() < frames.size


def test_denoising_has_no_mask():
    prior = build_method("unet-exp")
    obs = Observation(np.zeros(1600, np.float32), 16000, "denoising")
    tensors = prior.problem_tensors(obs)
    assert torch.all(tensors["frame_mask"] == 1) and torch.all(tensors["sample_mask"] == 1)


def test_a_waveform_mask_of_the_wrong_shape_is_refused():
    prior = build_method("unet-exp")
    obs = Observation(np.zeros(1600, np.float32), 16000, "inpainting", known={"mask": np.ones(100)})
    with pytest.raises(ValueError, match="known\\['mask'\\]"):
        prior.problem_tensors(obs)


# -- through the worker: a batch of cells ------------------------------------------------------------------
def _cells(method="unet-conv", items=2):
    suite = parse_suite({
        "name": "t", "items": items, "seeds": [0], "seconds": 0.05, "metrics": ["snr", "si_sdr"],
        "methods": [{"name": method}], "datasets": [{"name": "synthetic-speech"}],
        "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}],
        "protocol": {"iterations": 3, "trace_every": 1}})
    return expand(suite)


def test_a_batch_of_cells_is_fitted_at_once_and_equals_cells_fitted_alone():
    cells = _cells()
    batched = run_cells(cells)
    alone = [run_cells([cell])[0] for cell in cells]
    for together, single in zip(batched, alone):
        assert together["status"] == single["status"] == "ok", together.get("error")
        assert together["estimate_info"]["batch"] == 2 and single["estimate_info"]["batch"] == 1
        assert [p["iteration"] for p in together["trace"]] == [1, 2, 3]
        # float32 grouped vs plain convolutions round differently (tests/test_fitting.py bounds it)
        for metric in ("snr", "si_sdr"):
            assert together["scores"][metric] == pytest.approx(single["scores"][metric], abs=0.05)


def test_the_same_seed_gives_the_same_fit():
    cell = _cells(items=1)[0]
    first, second = run_cells([cell])[0], run_cells([cell])[0]
    assert first["scores"] == second["scores"]


@pytest.mark.parametrize("layout", ["contiguous", "channels-last"])
def test_the_norm_is_instance_norm_without_affine(layout):
    """Group norm with one group per channel, used for its channels-last kernel, is instance norm: outputs
    and input gradients equal in float64 (to rounding), in both memory layouts."""
    x = torch.randn(2, 35, 32, 16, dtype=torch.float64) * 3 + 1
    if layout == "channels-last":
        x = x.contiguous(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, reference = instance_norm(35)(a), torch.nn.InstanceNorm2d(35, affine=False)(b)
    weights = torch.randn_like(ours)
    (ours * weights).sum().backward()
    (reference * weights).sum().backward()
    assert torch.allclose(ours, reference, atol=1e-12)
    assert torch.allclose(a.grad, b.grad, atol=1e-12)
    assert not list(instance_norm(35).parameters()) and not list(instance_norm(35).buffers())
