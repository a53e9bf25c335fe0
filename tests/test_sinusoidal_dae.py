"""The sinusoidal DAE of Mimilakis et al. (2020): Eq. 4's atoms, sorting, Eq. 1's TV, N_P, the loss terms,
the oracle binary mask, training from the train split only."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from bench.methods.sinusoidal_dae import SinusoidalDAEMethod, negative_snr, segments, total_variation
from torch.nn import functional as F

from bench.components.method import RunContext
from bench.components.training import TrainingJob, run_job
from bench.core.audio import Observation

SR = 44100


def small(**params):
    return SinusoidalDAEMethod(channels=params.pop("channels", 16), **params)


def test_atoms_are_eq4_modulated_cosines():
    torch.manual_seed(0)
    model = small().build()
    dec = model.decoder
    with torch.no_grad():
        dec.envelope.normal_()  # a non-constant envelope, so b_c's role is seen
    f = dec.frequency.detach().numpy().astype(np.float64)
    phi = dec.phase.detach().numpy().astype(np.float64)
    b = dec.envelope.detach().numpy().astype(np.float64)
    t = np.arange(2048)
    expected = np.cos(2 * np.pi * f[:, None] ** 2 * t + phi[:, None]) * b
    np.testing.assert_allclose(dec.atoms().detach().numpy(), expected, atol=2e-3)
    linear = small(squared_frequencies=False).build().decoder
    np.testing.assert_allclose(linear.carriers().detach().numpy(), linear.frequency.detach().numpy())
    # the decoder is the transposed convolution of the code with these atoms, hop S apart
    code = torch.zeros(1, 16, 3)
    code[0, 5, 1] = 2.0
    out = dec(code)[0, 0].detach().numpy()
    np.testing.assert_allclose(out[384:384 + 2048], 2 * dec.atoms()[5].detach().numpy(), atol=1e-6)
    assert np.all(out[:384] == 0)


def test_initial_carriers_are_the_codes_squared_mel_frequencies():
    dec = small(channels=8).build().decoder
    hz = dec.carriers().detach().numpy() * SR
    assert hz[0] == pytest.approx((30 / SR) ** 2 * SR, rel=1e-4)  # about 0.02 Hz, as the notes say
    assert hz[-1] == pytest.approx(SR / 4, rel=1e-4)  # (1/2)^2 of fs: 11 kHz


@pytest.mark.parametrize("decoder,encoder", [("mod-cos", "conv"), ("cos", "conv"), ("mod-cos", "sinc")])
def test_sorting_atoms_leaves_the_output_unchanged(decoder, encoder):
    torch.manual_seed(1)
    method = small(decoder=decoder, encoder=encoder, sort_atoms=True)
    model = method.build()
    with torch.no_grad():
        model.decoder.frequency.copy_(model.decoder.frequency[torch.randperm(16)])
        model.decoder.envelope.normal_()
    x = torch.randn(2, 8000)
    before_out, before_code = model(x), model.encode(x)
    order = model.sort_atoms()
    assert not torch.equal(order, torch.arange(16))  # it did permute
    carriers = model.decoder.carriers().detach()
    assert torch.all(carriers[1:] >= carriers[:-1])
    torch.testing.assert_close(model(x), before_out, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.encode(x), before_code[:, order], atol=1e-5, rtol=1e-4)


def test_sorting_permutes_adams_moments_with_the_parameters():
    torch.manual_seed(2)
    model = small(sort_atoms=True).build()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        model.decoder.frequency.copy_(model.decoder.frequency[torch.randperm(16)])
    model(torch.randn(1, 4000)).pow(2).sum().backward()
    optimizer.step()
    moment = optimizer.state[model.decoder.frequency]["exp_avg"].clone()
    order = model.sort_atoms(optimizer)
    torch.testing.assert_close(optimizer.state[model.decoder.frequency]["exp_avg"], moment[order])


def test_total_variation_on_a_hand_computed_example():
    code = torch.tensor([[[0.0, 1.0, 3.0], [2.0, 2.0, 0.0]]])  # (B=1, C=2, T=3)
    # frame differences: [1, 2], [0, -2]; channel differences: [2, 1, -3]
    code_form = np.sqrt(1 + 4 + 0 + 4) / 3 + np.sqrt(4 + 1 + 9) / 2
    assert total_variation(code, "code").item() == pytest.approx(code_form, rel=1e-6)
    paper_form = (1 + 2 + 0 + 2 + 2 + 1 + 3) / (2 * 3)  # Eq. 1: l1 norms over (C T)
    assert total_variation(code, "paper").item() == pytest.approx(paper_form, rel=1e-6)
    # the code's norms run over the whole batch; the paper's form is a mean of per-segment values
    batch = torch.cat([code, 2 * code])
    assert total_variation(batch, "paper").item() == pytest.approx(1.5 * paper_form, rel=1e-6)
    assert total_variation(batch, "code").item() == pytest.approx(np.sqrt(5) * code_form, rel=1e-6)


def test_negative_snr_is_one_ratio_over_the_batch():
    x = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([[1.0, 1.0], [0.0, 3.0]])
    assert negative_snr(x, y).item() == pytest.approx(-10 * np.log10(10 / 1), rel=1e-6)


@pytest.mark.parametrize("channels,paper", [(400, 2_439_200), (800, 6_478_400), (1600, 19_356_800)])
def test_parameter_count_is_the_papers_n_p(channels, paper):
    assert SinusoidalDAEMethod(channels=channels).parameter_count() == paper


def test_table1_variants_are_near_the_papers_n_p():
    # Table 1 adapts C so that every model has about 6.48 M parameters (printed to 3 decimals)
    for params, paper in [({"decoder": "cos", "channels": 952}, 6.483e6),
                          ({"decoder": "conv", "channels": 800}, 6.476e6),
                          ({"encoder": "sinc", "channels": 952}, 6.487e6)]:
        assert SinusoidalDAEMethod(**params).parameter_count() == pytest.approx(paper, rel=5e-4)


def _batch(seed=0, n=4, length=6000):
    g = torch.Generator().manual_seed(seed)
    vocals = torch.randn(n, length, generator=g) * 0.1
    return vocals, vocals + torch.randn(n, length, generator=g) * 0.1


PROTOCOL = dict(SinusoidalDAEMethod.training_defaults)


def _loss_and_grad(method, model, vocals, remix, protocol, seed=0):
    model.zero_grad()
    loss, snr, tv = method.loss(model, vocals, remix, protocol, torch.Generator().manual_seed(seed))
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return loss.item(), snr.item(), tv.item(), grad


def test_each_loss_term_counts():
    torch.manual_seed(3)
    method = small()
    model = method.build()
    with torch.no_grad():
        model.decoder.envelope.mul_(300)  # an output of the input's order, so 1e-4 noise is not lost in it
    vocals, remix = _batch()
    full = _loss_and_grad(method, model, vocals, remix, PROTOCOL)
    assert full[0] == pytest.approx(full[1] + 0.5 * full[2], rel=1e-6)
    no_tv = _loss_and_grad(method, model, vocals, remix, {**PROTOCOL, "tv_weight": 0.0})
    assert no_tv[0] != pytest.approx(full[0]) and not torch.allclose(no_tv[3], full[3])
    no_noise = _loss_and_grad(method, model, vocals, remix, {**PROTOCOL, "noise_std": 0.0})
    assert no_noise[1] != pytest.approx(full[1], rel=1e-7) and not torch.equal(no_noise[3], full[3])
    # TV on the remix: the remix changes the loss; TV on the vocals: it does not
    other_remix = _batch(seed=9)[1]
    assert _loss_and_grad(method, model, vocals, other_remix, PROTOCOL)[2] != pytest.approx(full[2])
    on_vocals = small(tv_target="vocals")
    a = _loss_and_grad(on_vocals, model, vocals, remix, PROTOCOL)
    b = _loss_and_grad(on_vocals, model, vocals, other_remix, PROTOCOL)
    assert a[0] == b[0] and torch.equal(a[3], b[3]) and a[2] != pytest.approx(full[2])


def test_oracle_binary_mask_separation_matches_an_independent_computation():
    torch.manual_seed(4)
    method = small()
    method.model = method.build().eval()
    rng = np.random.default_rng(0)
    vocals = rng.standard_normal(8000).astype(np.float32) * 0.2
    accompaniment = rng.standard_normal(8000).astype(np.float32) * 0.3
    accompaniment[:3000] = 0  # codes where both vanish (0/0) and where only the accompaniment does
    obs = Observation(vocals + accompaniment, SR, "separation", known={"sources": np.stack([vocals, accompaniment])})
    estimate = method.restore(obs, RunContext()).signal
    with torch.no_grad():
        enc = lambda x: method.model.encode(torch.tensor(x)[None]).numpy()  # noqa: E731
        a_mix, a_v, a_b = enc(vocals + accompaniment), enc(vocals), enc(accompaniment)
        with np.errstate(divide="ignore", invalid="ignore"):
            mask = (a_v / a_b) > 0.5  # the code's rule: NaN (0/0) compares false, x/0 = inf passes
        assert np.any((a_b == 0) & (a_v > 0)) and np.any((a_b == 0) & (a_v == 0))
        dec = lambda a: method.model.decode(torch.tensor(a), 8000)[0].numpy()  # noqa: E731
        expected = np.stack([dec(a_mix * mask), dec(a_mix * ~mask)])
    assert estimate.shape == (2, 8000)
    np.testing.assert_allclose(estimate, expected, atol=1e-5)
    with pytest.raises(ValueError, match="oracle = true"):
        method.restore(Observation(vocals, SR, "separation", known={"num_sources": 2}), RunContext())


def test_reconstruction_returns_the_decoded_code():
    torch.manual_seed(5)
    method = small()
    method.model = method.build().eval()
    x = np.random.default_rng(1).standard_normal(5000).astype(np.float32)
    out = method.restore(Observation(x, SR, "reconstruction", reference=x), RunContext()).signal
    with torch.no_grad():
        np.testing.assert_allclose(out, method.model(torch.tensor(x)[None])[0].numpy(), atol=1e-6)


def _job(method_params, epochs=3, items=("00000", "00001"), seconds=2.0, lr=3e-3):
    training = {**SinusoidalDAEMethod.training_defaults, "epochs": epochs, "lr": lr, "tracks_per_set": 2,
                "segment_s": 0.25, "batch_size": 4}
    return TrainingJob({"format": 1, "method": {"name": "sinusoidal-dae", "version": "1", "params": method_params},
                        "data": {"tracks": {"name": "synthetic-singing", "params": {}, "split": "train",
                                            "items": list(items), "sample_rate": 8000, "seconds": seconds,
                                            "revision": "1"}},
                        "training": training, "seed": 0, "versions": {}})


def test_a_short_fit_lowers_the_loss_and_sorts(tmp_path):
    job = _job({"channels": 16, "hop": 256, "sort_atoms": True})
    state = run_job(job, tmp_path)
    assert state["state"] == "done", state["error"]
    assert len(state["losses"]) == 3 and state["losses"][-1] < state["losses"][0]
    method = SinusoidalDAEMethod(channels=16, hop=256, sort_atoms=True)
    method.load_trained(job.folder(tmp_path) / "trained.pt")
    carriers = method.model.decoder.carriers().detach()
    assert torch.all(carriers[1:] >= carriers[:-1])


def test_training_reads_only_the_train_split(tmp_path, monkeypatch):
    from bench.datasets.synthetic_singing import SyntheticSinging

    seen = []
    original = SyntheticSinging.load

    def recording(self, item, **kw):
        seen.append(item)
        return original(self, item, **kw)

    monkeypatch.setattr(SyntheticSinging, "load", recording)
    assert SinusoidalDAEMethod.training_data["tracks"]["split"] == "train+valid"  # the paper's 100 tracks
    state = run_job(_job({"channels": 8, "hop": 256}, epochs=1, items=("00003", "00005", "00007")), tmp_path)
    assert state["state"] == "done", state["error"]
    train = set(SyntheticSinging().item_ids("train+valid"))
    assert seen and set(seen) == {"00003", "00005", "00007"} and set(seen) <= train
    assert not set(seen) & set(SyntheticSinging().item_ids("test"))


def test_bad_parameters_fail_with_one_line():
    with pytest.raises(ValueError, match="decoder must be one of"):
        SinusoidalDAEMethod(decoder="mod-sin")
    with pytest.raises(ValueError, match="sort_atoms needs a sinusoidal decoder"):
        SinusoidalDAEMethod(decoder="conv", sort_atoms=True)


@pytest.mark.parametrize("hop,frames", [(384, 115), (256, 173)])
def test_framing_is_the_codes_ceil_n_over_s(hop, frames):
    model = small(hop=hop).build()
    x = torch.randn(1, 44100)
    assert model.encode(x).shape == (1, 16, frames)
    assert model(x).shape == (1, 44100)


def test_a_sets_vocal_and_accompaniment_segments_are_shuffled_independently():
    """Sec. 3: "We then randomly shuffle the segments for each source": the remix (for the TV term) pairs each
    vocal segment with an accompaniment segment of the set drawn by another permutation, not its own, and
    neither source stays in time order. Segments of white noise tell every row's origin apart (the batch's
    one scalar mean aside)."""
    from types import SimpleNamespace

    from bench.core.audio import Clip

    rate, tracks = 100, 2
    rng = np.random.default_rng(0)
    stems = {f"t{k}": rng.standard_normal((2, 160)).astype(np.float32) for k in range(tracks)}
    source = SimpleNamespace(sample_rate=rate, items=list(stems), dataset=SimpleNamespace(name="noise"),
                             load=lambda item: Clip(stems[item], rate))
    protocol = {**SinusoidalDAEMethod.training_defaults, "segment_s": 0.2, "tracks_per_set": tracks,
                "batch_size": 5}
    context = SimpleNamespace(protocol=protocol, rng=np.random.default_rng(1))
    # 20-sample segments every 10 samples: 15 per track, 30 in the set, in 6 full batches of 5
    segments = {(k, s): stems[f"t{k}"][:, 10 * s:10 * s + 20] for k in range(tracks) for s in range(15)}

    def origin(row, part):  # the segment (track, index) this row is, up to a constant
        row = row.numpy() - row.numpy().mean()
        return min(segments, key=lambda ks: np.sum((segments[ks][part] - segments[ks][part].mean() - row) ** 2))

    vocal_order, accompaniment_order = [], []
    for vocals, remix in SinusoidalDAEMethod().batches({"tracks": source}, context):
        for v, m in zip(vocals, remix):
            vocal_order.append(origin(v, 0))
            accompaniment_order.append(origin(m - v, 1))
    def in_time_order(order):  # how often a segment is followed by the next one of its track
        return sum(b == (a[0], a[1] + 1) for a, b in zip(order, order[1:]))

    assert sorted(vocal_order) == sorted(accompaniment_order) == sorted(segments)  # each segment once an epoch
    # unshuffled, 28 of 29 neighbours follow in time whatever the order of the tracks; shuffled, about 1
    assert in_time_order(vocal_order) <= 4 and in_time_order(accompaniment_order) <= 4
    own = sum(v == a for v, a in zip(vocal_order, accompaniment_order))
    assert own <= 4  # a random pairing keeps about one segment with its own accompaniment


def test_an_epoch_announces_its_steps_before_it_runs():
    """The display counts steps within a (long) epoch: the epoch's step count is known before it starts,
    an upper bound off by at most one padded batch per set of tracks."""
    from bench.datasets.synthetic_singing import SyntheticSinging

    from bench.components.training import TrainingData, TrainingSource

    job = _job({"channels": 8, "hop": 256}, items=("00001", "00002", "00004"), seconds=1.3)
    data = TrainingData(tracks=TrainingSource("tracks", SyntheticSinging(), ["00001", "00002", "00004"], 8000, 1.3))
    protocol = job.protocol
    announced = SinusoidalDAEMethod.steps_per_epoch(data, protocol)

    class Context:
        rng = np.random.default_rng(0)
    Context.protocol = protocol
    taken = sum(1 for _ in SinusoidalDAEMethod().batches(data, Context))
    sets = 2  # three tracks, two per set
    assert taken <= announced <= taken + sets


def test_list_details_gives_n_p_for_each_variant_a_suite_runs():
    from bench.commands.list import suite_variant_details
    from bench.components.method import METHODS

    details = suite_variant_details(METHODS.get("sinusoidal-dae"))
    assert details["mimilakis2020-table2: conv/mod-cos, C = 1600, TV on A_v"] == "parameters 19,356,800"
    assert details["mimilakis2020-table2: conv/mod-cos, C = 400, TV on A_m"] == "parameters 2,439,200"
    assert details["mimilakis2020-table1: conv/cos (f_c^2), C = 952"] == "parameters 6,485,168"
    assert len([k for k in details if k.startswith("mimilakis2020-table")]) == 13


def test_early_stopping_watches_eq5_and_ends_the_training_after_the_first_epoch_it_did_not_fall(tmp_path):
    """Table 1's rule on the DAE: the epoch means it watches are the neg-SNR term alone (the loss less
    lambda x TV, so below the loss), and the training ends after the first epoch that did not lower them."""
    import json

    from bench.components.training import first_epoch_not_falling

    job = _job({"channels": 8, "hop": 256, "tv_target": "vocals"}, epochs=6, lr=0.05)
    job.config["training"]["stop_when_loss_stops_falling"] = True
    state = run_job(job, tmp_path)
    assert state["state"] == "done", state["error"]
    watched = json.loads(job.files(tmp_path).epoch.read_text())["stopping_losses"]
    assert all(w < loss for w, loss in zip(watched, state["losses"]))
    stop = first_epoch_not_falling(watched)
    assert stop is not None and state["stopped_early"]["epoch"] == stop  # this rate overshoots: it stops
    assert len(state["losses"]) == stop + 1 < 6


# -- from the survivors of mutation testing (benchmarks/mutation.md, 2026-12-07 second session) -------------

def test_negative_snr_on_a_ratio_other_than_ten_and_on_silence():
    x, y = torch.full((4,), 2.0), torch.ones(4)  # ||x||^2 = 16, ||x - y||^2 = 4
    assert negative_snr(x, y).item() == pytest.approx(-10 * np.log10(16 / 4), rel=1e-6)
    assert negative_snr(torch.zeros(4), torch.zeros(4)).item() == 0.0  # silence decoded exactly: 0, not NaN


def test_total_variation_differences_neighbouring_channels_and_frames():
    code = torch.randn(2, 4, 5, generator=torch.Generator().manual_seed(0))
    c = code.numpy().astype(np.float64)
    expected = (np.linalg.norm(np.diff(c, axis=2)) / 5 + np.linalg.norm(np.diff(c, axis=1)) / 4)
    assert total_variation(code, "code").item() == pytest.approx(expected, rel=1e-5)


def test_sinc_filters_are_windowed_band_passes_between_mel_spaced_edges():
    """SincNet's first stage (Ravanelli & Bengio): cut-offs mel-spaced from 80 Hz to fs/2 - 100 Hz, each
    filter 2 f2 sinc(2 f2 n) - 2 f1 sinc(2 f1 n) on n centred on the kernel, Hamming-windowed, scaled to a
    peak of 1. Computed here in float64 from the formula."""
    from bench.methods.sinusoidal_dae import SincFirstStage, mel_spaced

    stage = SincFirstStage(channels=6, kernel=2048, hop=384, sample_rate=SR)
    edges = mel_spaced(80.0, SR / 2 - 100.0, 7)
    low = stage.low.detach().numpy().astype(np.float64)
    high = low + stage.band.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(low * SR, edges[:-1], rtol=1e-5)
    np.testing.assert_allclose(high * SR, edges[1:], rtol=1e-5)
    n = np.arange(2048) - 1023.5
    band_pass = (2 * high[:, None] * np.sinc(2 * high[:, None] * n) - 2 * low[:, None] * np.sinc(2 * low[:, None] * n))
    band_pass *= np.hamming(2048)
    expected = band_pass / np.abs(band_pass).max(axis=1, keepdims=True)
    np.testing.assert_allclose(stage.filters().detach().numpy(), expected, atol=1e-5)


def test_encoder_is_a_strided_convolution_then_a_dilated_residual_relu():
    model = small().build()
    x = torch.randn(1, 1, 6000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = F.conv1d(x, model.encoder.first.weight, stride=384)
        expected = F.relu(F.conv1d(h, model.encoder.dilated.weight, dilation=10, padding=20) + h)
        torch.testing.assert_close(model.encoder(x), expected)


def test_encode_and_decode_centre_the_signal_in_ceil_n_over_s_frames():
    """N = 5001 samples, S = 384: T = 14 frames; the frames span T S + L - S = 7040 samples, 2039 more than
    N: 1019 on the left, 1020 on the right (an odd total tells left from right)."""
    model = small().build()
    x = torch.randn(1, 5001, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model.encode(x), model.encoder(F.pad(x[:, None, :], (1019, 1020))))
        code = torch.randn(1, 16, 14, generator=torch.Generator().manual_seed(3))
        full = F.conv_transpose1d(code, model.decoder.atoms()[:, None, :], stride=384)[:, 0]
        torch.testing.assert_close(model.decode(code, 5001), full[:, 1019:1019 + 5001])


@pytest.mark.parametrize("tanh", [False, True])
def test_the_conv_decoder_is_a_transposed_convolution_with_tanh_or_not(tanh):
    decoder = small(decoder="conv", tanh=tanh).build().decoder
    code = torch.randn(1, 16, 3, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        y = F.conv_transpose1d(code, decoder.synthesis.weight, stride=384)  # no bias, hop S apart
        torch.testing.assert_close(decoder(code), torch.tanh(y) if tanh else y)


def test_the_method_records_its_parameters_and_builds_what_they_say():
    params = {"channels": 8, "hop": 256, "encoder": "sinc", "decoder": "cos", "squared_frequencies": False,
              "tanh": False, "sort_atoms": True, "tv_target": "vocals", "tv": "paper"}
    assert SinusoidalDAEMethod(**params).params == params  # the cell key and the record carry them
    model = SinusoidalDAEMethod(**params).build()
    assert model.hop == 256 and model.encoder.first.low.shape == (8,) and model.decoder.envelope.shape == (1, 2048)
    assert not model.decoder.squared


@pytest.mark.parametrize("name", ["mimilakis2020-table1", "mimilakis2020-table2"])
def test_each_suite_rows_label_is_the_model_its_parameters_build(name):
    """The rows set only what differs from the defaults: a flipped default (tanh, f_c^2, the encoder, the
    decoder) would make a row another model than its label says."""
    from bench.methods.sinusoidal_dae import ConvDecoder, SincFirstStage

    from bench.planning.suite import load_suite

    rows = [row for row in load_suite(name).methods if row.name == "sinusoidal-dae"]
    assert len(rows) >= 6
    for row in rows:
        method = SinusoidalDAEMethod(**row.params)
        model = method.build()
        label = row.label
        assert f"C = {method.channels}" in label
        assert isinstance(model.decoder, ConvDecoder) == ("conv/conv" in label)
        assert isinstance(model.encoder.first, SincFirstStage) == label.startswith("sinc/")
        assert bool(method.tanh) == ("tanh" in label)
        if not isinstance(model.decoder, ConvDecoder):
            assert model.decoder.squared == ("linear" not in label)
            assert (model.decoder.envelope.shape[0] == 1) == label.startswith("conv/cos ")
        if "TV on" in label:
            assert method.tv_target == ("vocals" if "TV on A_v" in label else "remix")
        assert method.hop == 384  # the paper's text (Sec. 3); the suites say so in their titles


def test_segments_pads_a_signal_shorter_than_one_row():
    rows = segments(torch.ones(2, 5), 8, 4)
    assert rows.shape == (2, 1, 8)
    assert torch.equal(rows[0, 0], torch.tensor([1.0] * 5 + [0.0] * 3))


def test_batches_are_full_size_with_one_mean_removed_per_batch():
    from types import SimpleNamespace

    from bench.core.audio import Clip

    rng = np.random.default_rng(0)
    stems = {f"t{k}": (rng.standard_normal((2, 160)) + 0.5).astype(np.float32) for k in range(2)}
    source = SimpleNamespace(sample_rate=100, items=list(stems), dataset=SimpleNamespace(name="noise"),
                             load=lambda item: Clip(stems[item], 100))
    protocol = {**SinusoidalDAEMethod.training_defaults, "segment_s": 0.2, "tracks_per_set": 2, "batch_size": 4}
    context = SimpleNamespace(protocol=protocol, rng=np.random.default_rng(1))
    batches = list(SinusoidalDAEMethod().batches({"tracks": source}, context))
    assert len(batches) == 8  # 30 segments of 20 samples: 7 full batches of 4 and one of 2 padded with zeros
    for vocals, remix in batches:
        assert vocals.shape == remix.shape == (4, 20)
        assert abs(vocals.mean().item()) < 1e-6 and abs(remix.mean().item()) < 1e-6
    last_vocals = batches[-1][0]
    assert torch.equal(last_vocals[2], last_vocals[3])  # the zero rows, less the batch's mean


@pytest.mark.parametrize("tv", ["code", "paper"])
def test_the_loss_adds_noise_of_the_protocols_std_and_takes_tv_of_the_remixs_code(tv):
    method = small(tv=tv)
    model = method.build()
    seen = []
    encode = model.encode
    model.encode = lambda x: (seen.append(x), encode(x))[1]
    vocals, remix = _batch(n=4, length=6000)
    with torch.no_grad():
        _, _, tv_term = method.loss(model, vocals, remix, {**PROTOCOL, "noise_std": 0.01},
                                    torch.Generator().manual_seed(0))
        noise = seen[0] - vocals
        assert noise.std().item() == pytest.approx(0.01, rel=0.05) and abs(noise.mean().item()) < 1e-3
        assert torch.equal(seen[1], remix)
        assert tv_term.item() == pytest.approx(total_variation(encode(remix), tv).item(), rel=1e-6)


def test_a_fit_uses_adam_at_the_protocols_rate_and_sorts_with_its_moments(tmp_path, monkeypatch):
    from bench.methods.sinusoidal_dae import SinusoidalDAE

    rates, sorted_with = [], []

    class Recording(torch.optim.Adam):
        def __init__(self, params, **options):
            rates.append(options.get("lr"))
            super().__init__(params, **options)

    original = SinusoidalDAE.sort_atoms
    monkeypatch.setattr(torch.optim, "Adam", Recording)
    monkeypatch.setattr(SinusoidalDAE, "sort_atoms",
                        lambda self, optimizer=None: (sorted_with.append(optimizer), original(self, optimizer))[1])
    state = run_job(_job({"channels": 8, "hop": 256, "sort_atoms": True}, epochs=1, lr=3e-3), tmp_path)
    assert state["state"] == "done", state["error"]
    assert rates == [3e-3]
    assert sorted_with and all(isinstance(o, Recording) for o in sorted_with)  # Adam's moments follow the atoms


def test_initial_envelopes_are_one_over_c_plus_l():
    """b_c = 1 / (C + L) at the start (the public code's initialisation; module docstring)."""
    envelope = small(channels=8).build().decoder.envelope.detach()
    assert envelope.shape == (8, 2048) and torch.all(envelope == torch.tensor(1.0 / (8 + 2048)))
