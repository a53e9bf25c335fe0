"""Waveform deep priors (methods/networks/waveform_demucs.py, wave_unet.py, waveform_priors.py) and the engine hooks
they use (input redraw per iteration, copy-by-copy ensembles for LSTMs)."""
from functools import partial

import numpy as np
import pytest
import torch
from bench.methods.networks.wave_unet import WaveUNet
from bench.methods.networks.waveform_demucs import DESIGNS, WaveformDemucs, make_design
from bench.methods.waveform_priors import WaveformDemucsPrior, WaveUNetPrior
from torch import nn

from bench.components.fitting import Ensemble, Schedule, fit, seeded
from bench.components.method import RunContext
from bench.core.audio import Observation
from bench.core.protocol import resolve

SMALL = dict(channels=4, sequence_layers=1)


def _net(variant, seed=0, **overrides):
    torch.manual_seed(seed)
    return WaveformDemucs(make_design(variant, **{**SMALL, **overrides}))


@pytest.mark.parametrize("variant", sorted(DESIGNS))
@pytest.mark.parametrize("samples", [800, 1601])
def test_output_covers_and_crops_to_the_input_length(variant, samples):
    net = _net(variant, heads=2)
    length = net.input_length(samples)
    assert net.output_length(length) >= samples > net.output_length(length - 1)  # the shortest such input
    with torch.no_grad():
        out = net(torch.randn(1, 1, length))
    assert out.shape[-1] == net.output_length(length)
    assert WaveformDemucs.crop(out, samples).shape == (1, 1, samples)


def _support(net, length, index):
    x = torch.randn(1, 1, length, requires_grad=True)
    net(x)[0, 0, index].backward()
    return np.flatnonzero(x.grad[0, 0].abs().numpy() > 0)


@pytest.mark.parametrize("variant", ["conv2", "conv-glu", "conv4"])
def test_receptive_field_of_a_convolutional_design(variant):
    net = _net(variant)
    length = net.input_length(4000)
    index = net.output_length(length) // 2
    first, last = net.input_interval(index, index, length)
    support = _support(net, length, index)
    assert support.size and first <= support.min() and support.max() <= last
    assert support.max() - support.min() >= 0.8 * (last - first)  # dead ReLUs may trim the edges
    assert last - first < length / 2  # local: far from the whole input


def test_the_lstm_design_sees_the_whole_input():
    net = _net("demucs")
    length = net.input_length(3000)
    support = _support(net, length, net.output_length(length) // 2)
    assert net.input_interval(0, 0, length) == (0, length - 1)
    assert support.min() < length * 0.05 and support.max() > length * 0.95


def _without_skips(net, x):
    """Encoder -> sequence -> decoder, no encoder activation passed to the decoder."""
    for layer in net.encoder:
        x = layer(x)
    if net.sequence is not None:
        x = net.sequence(x)
    for layer in net.decoder:
        x = layer(x)
    return x


@pytest.mark.parametrize("variant", ["conv2", "demucs", "conv-skip"])
def test_skip_connections_only_where_the_design_has_them(variant):
    net = _net(variant, resample=1)
    x = torch.randn(1, 1, net.input_length(900))
    with torch.no_grad():
        same = torch.allclose(net(x), _without_skips(net, x))
    assert same == (not net.design.skips)
    assert [name for name, d in DESIGNS.items() if d.skips] == ["conv-skip"]


def test_table3_designs_are_one_network_with_the_papers_elements():
    assert DESIGNS["demucs"] == DESIGNS["conv-lstm"]  # the published script leaves --glu off
    assert [DESIGNS[f"conv{d}"].depth for d in (2, 4, 6)] == [2, 4, 6]
    assert DESIGNS["conv-attention"].sequence == "attention" and not DESIGNS["conv-attention"].glu
    lstm = _net("demucs").sequence.lstm
    assert lstm.bidirectional and lstm.num_layers == 1
    assert WaveformDemucs(make_design("demucs")).sequence.lstm.num_layers == 4  # the published script
    glu = [m for m in _net("conv-glu").modules() if isinstance(m, torch.nn.GLU)]
    assert len(glu) == 4 and not [m for m in _net("conv2").modules() if isinstance(m, torch.nn.GLU)]


def test_attention_rows_use_torchs_transformer_layer_as_the_public_code():
    net = WaveformDemucs(make_design("conv-attention"))
    layers = net.sequence.attention.layers
    assert len(layers) == 4 and all(isinstance(m, nn.TransformerEncoderLayer) for m in layers)
    first = layers[0]
    assert first.self_attn.num_heads == 2 and first.linear1.out_features == 2048 and not first.norm_first
    assert first.dropout.p == 0.1
    for a, b in zip(layers[0].parameters(), layers[3].parameters()):  # deep copies of one layer
        torch.testing.assert_close(a, b)
    plain = seeded(partial(WaveformDemucs, make_design("conv-attention", rescale=0.0)), 3)
    rescaled = seeded(partial(WaveformDemucs, make_design("conv-attention")), 3)
    for a, b in zip(plain.sequence.parameters(), rescaled.sequence.parameters()):  # the rescale skips them
        torch.testing.assert_close(a, b)
    assert not torch.equal(plain.encoder[0][0].weight, rescaled.encoder[0][0].weight)


def test_dropout_is_active_in_the_fit_and_seeded_per_cell():
    """Attention dropout draws differ between forwards, yet a cell's fit reruns to the same numbers."""
    net = _net("conv-attention", heads=2)
    x = torch.randn(1, 1, net.input_length(400))
    assert not torch.equal(net(x), net(x))
    twins = Ensemble(partial(WaveformDemucs, make_design("conv-attention", **SMALL, heads=2)), [1, 1])
    assert twins.vmappable
    out = twins(x.expand(2, -1, -1))  # equal copies, equal inputs: only their own dropout masks differ
    assert not torch.equal(out[0], out[1])
    small = dict(variant="conv-attention", channels=4, sequence_layers=1, heads=2)

    def fitted(**params):
        torch.rand(int(torch.randint(1, 50, (1,))))  # whatever the worker drew before must not matter
        context = RunContext(seed=5, protocol=resolve(WaveformDemucsPrior.protocol_defaults,
                                                             {"iterations": 4, "lr": 1e-3}))
        return WaveformDemucsPrior(**small, **params).restore(_observation("denoising"), context).signal

    np.testing.assert_array_equal(fitted(), fitted())
    assert not np.allclose(fitted(), fitted(dropout=0.0))


@pytest.mark.parametrize("variant", ["conv2", "demucs", "conv-attention"])
def test_batched_fit_equals_separate_fits(variant):
    """vmapped designs and the LSTM design (evaluated copy by copy) both reproduce separate fits."""
    build = partial(WaveformDemucs, make_design(variant, **SMALL, heads=2, dropout=0.0))
    assert Ensemble(build, [1, 2]).vmappable == (variant != "demucs")
    length = make_design(variant, **SMALL).input_length(600)
    g = torch.Generator().manual_seed(0)
    inputs, target = torch.randn(2, 1, length, generator=g), torch.randn(2, 600, generator=g)

    def l1(t):
        return lambda out, step: (WaveformDemucs.crop(out[:, 0], 600) - t).abs().mean(-1)

    schedule = Schedule(iterations=3, lr=1e-3)
    batched = fit(Ensemble(build, [1, 2]), inputs, l1(target), schedule)
    separate = torch.cat([fit(Ensemble(build, [s]), inputs[i:i + 1], l1(target[i:i + 1]), schedule)
                          for i, s in enumerate([1, 2])])
    torch.testing.assert_close(batched, separate, rtol=1e-4, atol=1e-5)


def test_wave_unet_lengths_levels_and_batching():
    net = WaveUNet(levels=12)
    assert net.input_length(32000) == 32768 and len(net.down) == len(net.up) == 12
    assert net.bottleneck[0].out_channels == 24 * 13
    with pytest.raises(ValueError, match="multiple"):
        net(torch.zeros(1, 1, 1000))
    build = partial(WaveUNet, levels=3, filters=4)
    inputs, target = torch.randn(2, 1, 64), torch.randn(2, 1, 64)
    objective = lambda out, step: (out - target).abs().mean((1, 2))  # noqa: E731
    schedule = Schedule(iterations=2, lr=1e-3)
    batched = fit(Ensemble(build, [3, 4]), inputs, objective, schedule)
    assert batched.shape == (2, 1, 64) and batched.abs().max() <= 1  # tanh output
    separate = torch.cat([fit(Ensemble(build, [s]), inputs[i:i + 1], lambda o, st, i=i: (o - target[i:i + 1]).abs()
                              .mean((1, 2)), schedule) for i, s in enumerate([3, 4])])
    torch.testing.assert_close(batched, separate, rtol=1e-4, atol=1e-5)


# -- the methods ------------------------------------------------------------------------------------------
def _observation(task, samples=700, gap=(300, 340)):
    rng = np.random.default_rng(0)
    clean = np.sin(np.arange(samples) * 0.05).astype(np.float32) * 0.5
    noisy = (clean + 0.05 * rng.standard_normal(samples)).astype(np.float32)
    known = {}
    if task == "inpainting":
        mask = np.ones(samples, np.float32)
        mask[gap[0]:gap[1]] = 0
        noisy, known = clean * mask, {"mask": mask}
    return Observation(noisy, 16000, task, known)


def test_inpainting_loss_ignores_the_gap():
    prior = WaveformDemucsPrior(variant="conv2")
    obs = _observation("inpainting")
    tensors = {k: v[None] for k, v in prior.problem_tensors(obs).items()}
    from bench.components.fitting import Problems

    problems = Problems([obs], [None], torch.device("cpu"), tensors)
    length = prior.input_length(700)
    offset = (prior.design.output_length(length) - 700) // 2
    outputs = torch.full((1, 1, prior.design.output_length(length)), -1.0, requires_grad=True)
    loss = prior.objective(outputs, problems, 0, Schedule(1))
    loss.sum().backward()
    grad = outputs.grad[0, 0, offset:offset + 700]
    assert torch.all(grad[300:340] == 0) and torch.all(grad[:300] != 0) and torch.all(grad[340:] != 0)
    expected = np.abs(-1 - obs.signal[obs.known["mask"] == 1]).mean()  # L1 over the observed samples only
    assert loss.item() == pytest.approx(expected, rel=1e-5)


class _Recording(torch.nn.Module):
    """Wraps a network and keeps every input it is called with."""

    def __init__(self, net, seen):
        super().__init__()
        self.net, self.seen = net, seen

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.net(x)


def _fit_and_record(task, **params):
    seen = []
    prior = WaveformDemucsPrior(variant="conv2", channels=4, **params)
    network = prior.network
    prior.network = lambda: _Recording(network(), seen)
    traced = []
    context = RunContext(seed=5, protocol=resolve(prior.protocol_defaults, {"iterations": 4, "trace_every": 2}),
                         trace_callback=lambda i, s: traced.append(i))
    estimate = prior.restore(_observation(task), context)
    return seen, traced, estimate


def test_by_default_the_input_is_uniform_noise_drawn_once_as_in_the_public_code():
    for task in ("denoising", "inpainting"):
        seen, _, _ = _fit_and_record(task)
        assert all(torch.equal(seen[0], x) for x in seen)
        assert float(seen[0].abs().max()) <= 1 and float(seen[0].std()) == pytest.approx(1 / 3 ** 0.5, rel=0.1)


def test_the_papers_text_redraws_gaussian_input_every_iteration_except_for_inpainting():
    text = {"input_noise": "gaussian", "redraw": "auto"}
    seen, traced, estimate = _fit_and_record("denoising", **text)
    assert len(seen) == 5 and traced == [2, 4]  # 4 updates + the final iterate
    assert all(not torch.equal(a, b) for a, b in zip(seen, seen[1:]))
    assert float(torch.cat(seen).std()) == pytest.approx(0.1, rel=0.05)  # N(0, 0.1^2)
    assert estimate.signal.shape == (700,) and estimate.info["iterations"] == 4

    seen, _, _ = _fit_and_record("inpainting", **text)
    assert all(torch.equal(seen[0], x) for x in seen)  # drawn once
    again, _, _ = _fit_and_record("inpainting", **text)
    assert torch.equal(seen[0], again[0])  # seeded from the cell


def test_redrawn_noise_is_per_problem_in_a_batch():
    """A batch of two cells gives each the estimate it gets alone (own initialisation and own noise stream)."""
    prior = WaveformDemucsPrior(variant="conv2", channels=4, input_noise="gaussian", redraw="auto")
    contexts = [RunContext(seed=s, protocol=resolve(prior.protocol_defaults, {"iterations": 3})) for s in (1, 2)]
    observations = [_observation("denoising"), _observation("denoising", samples=700)]
    batched = prior.restore_batch(observations, contexts)
    for obs, ctx, together in zip(observations, contexts, batched):
        alone = prior.restore(obs, ctx)
        np.testing.assert_allclose(together.signal, alone.signal, rtol=1e-4, atol=1e-6)
    assert not np.allclose(batched[0].signal, batched[1].signal)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="variant"):
        WaveformDemucsPrior(variant="conv3")
    with pytest.raises(ValueError, match="input_noise"):
        WaveformDemucsPrior(input_noise="pink")
    with pytest.raises(ValueError, match="redraw"):
        WaveUNetPrior(redraw="sometimes")
    with pytest.raises(ValueError, match=r"\(T,\)"):
        WaveUNetPrior().problem_tensors(Observation(np.zeros((2, 100), np.float32), 16000, "denoising"))


def test_convolutions_are_initialised_as_demucs_v2_rescales_them():
    """Each convolution's weight std becomes sqrt(std x 0.1) (PyTorch's default init, then Demucs' rescale)."""
    plain = seeded(partial(WaveformDemucs, make_design("demucs", rescale=0.0)), 3)
    rescaled = seeded(partial(WaveformDemucs, make_design("demucs")), 3)
    convs = [(a, b) for a, b in zip(plain.modules(), rescaled.modules()) if isinstance(a, (nn.Conv1d, nn.ConvTranspose1d))]
    assert len(convs) == 8
    for a, b in convs:
        assert b.weight.std().item() == pytest.approx((a.weight.std().item() * 0.1) ** 0.5, rel=1e-5)
        ratio = (b.weight / a.weight).flatten()
        torch.testing.assert_close(b.bias / a.bias, torch.full_like(a.bias, ratio[0].item()))
