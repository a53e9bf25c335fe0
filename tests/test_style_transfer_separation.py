"""UDT and the supervised VAE of Venkataramani et al. (2019): shared layers, loss terms, cycle paths,
inference with the mixture's phase, what each method trains on, and the suite."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from bench.methods.networks.spectrogram_vaes import CycleVAEs, DenoisingVAE
from bench.methods.style_transfer_separation import (
    CYCLE_ENCODINGS,
    SupervisedVAESeparation,
    UDTSeparation,
    translation_paths,
    translation_terms,
    weighted_sum,
)
from bench.methods.support.power_spectrogram import PowerSpectrogram

from bench.components.dataset import build_dataset
from bench.components.method import RunContext, build_method
from bench.components.training import TrainingContext, TrainingData, TrainingJob, TrainingSource, run_job
from bench.core.audio import Observation

FRONT = {"n_fft": 32, "hop": 8, "power": 0.7}


def small_cycle_vaes(channels=16, seed=0) -> CycleVAEs:
    torch.manual_seed(seed)
    return CycleVAEs(channels, FRONT)


# -- the networks --------------------------------------------------------------------------------------
def test_version_2_shares_every_convolution_and_keeps_each_domain_s_batch_norms(tmp_path):
    model = CycleVAEs(16, FRONT, shared_blocks=3)
    for k in range(3):
        assert model.encode_mixture[k].conv is model.encode_clean[k].conv
        assert model.decode_mixture[k].conv is model.decode_clean[k].conv
    assert model.encode_mixture[0].post is not model.encode_clean[0].post  # own batch norm per domain
    c = 16
    assert sum(p.numel() for p in model.parameters()) == 6 * (c * c * 5 + c) + 10 * 2 * c
    method = build_method("udt-separation")
    assert method.training_defaults["shared_blocks"] == 3 and method.shared_blocks == 3
    method.front = PowerSpectrogram(n_fft=32, hop=8)
    method.shared_blocks = 1  # the paper's network, saved and restored as such
    state = method.build().state_dict()
    fresh = build_method("udt-separation")
    assert fresh.model_from_state(state).shared_blocks == 1 and fresh.shared_blocks == 1
    with pytest.raises(ValueError, match="shares 1 blocks, this one 3"):
        CycleVAEs(16, FRONT, shared_blocks=3).load_state_dict(CycleVAEs(16, FRONT).state_dict())


def test_the_shared_layers_are_one_parameter_set_and_couple_the_domains():
    model = small_cycle_vaes()
    assert model.encode_mixture[-1].conv is model.encode_clean[-1].conv is model.shared_encoder_conv
    assert model.decode_mixture[0].conv is model.decode_clean[0].conv is model.shared_decoder_conv
    own = [model.encode_mixture[0].conv, model.encode_mixture[1].conv, model.encode_clean[0].conv,
           model.encode_clean[1].conv, model.decode_mixture[1].conv, model.decode_mixture[2].conv,
           model.decode_clean[1].conv, model.decode_clean[2].conv]
    assert len({id(c) for c in own}) == 8  # every other layer belongs to one domain
    c = 16
    convs, norms = 10 * (c * c * 5 + c), 10 * 2 * c  # 2 x 4 own + 2 shared convs; 6 + 4 batch norms
    assert sum(p.numel() for p in model.parameters()) == convs + norms
    # A step on the mixture domain's reconstruction alone moves the clean encoder through the shared layer.
    model.eval()
    clean = torch.rand(2, c, 12)
    before = model.encode_clean(clean).detach()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    mixture = torch.rand(2, c, 12)
    F.mse_loss(model.decode_mixture(model.encode_mixture(mixture)), mixture).backward()
    assert model.encode_clean[0].conv.weight.grad is None  # the clean domain's own layers get nothing
    optimizer.step()
    assert not torch.allclose(model.encode_clean(clean), before)


def test_the_decoder_ends_in_a_non_negative_magnitude_and_eval_mode_draws_no_noise():
    model = small_cycle_vaes().eval()
    x = torch.rand(3, 16, 20)
    out = model(x)
    assert out.shape == x.shape and (out >= 0).all()
    assert torch.equal(model(x), out)  # no latent noise, no dropout
    model.train()
    assert not torch.equal(model(x), model(x))  # z = h + N(0, I) while training


# -- the loss terms ------------------------------------------------------------------------------------
def random_paths(c=8, t=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    names = ["h_s", "h_t", "D_s(z_s)", "D_t(z_t)", "D_t(z_s)", "D_s(z_t)", *CYCLE_ENCODINGS]
    return {n: torch.rand(2, c, t, generator=g) + 0.1 for n in names}, torch.rand(2, c, t, generator=g) + 0.1, \
        torch.rand(2, c, t, generator=g) + 0.1


def identity_holds(term: str, p: dict, mixture, clean) -> dict:
    """The paths changed so that exactly the identity of ``term`` holds."""
    p = dict(p)
    if term == "reconstruction_mixture":
        p["D_s(z_s)"] = mixture.clone()
    elif term == "reconstruction_clean":
        p["D_t(z_t)"] = clean.clone()
    elif term == "latent_mixture":
        p["h_s"] = torch.zeros_like(p["h_s"])
    elif term == "latent_clean":
        p["h_t"] = torch.zeros_like(p["h_t"])
    elif term == "cycle_straight_mixture":
        p["E_s(D_s(z_s))"] = p["h_s"].clone()
    elif term == "cycle_straight_clean":
        p["E_t(D_t(z_t))"] = p["h_t"].clone()
    elif term == "cycle_cross_mixture":
        p["E_t(D_t(z_s))"] = p["h_s"].clone()
    elif term == "cycle_cross_clean":
        p["E_s(D_s(z_t))"] = p["h_t"].clone()
    elif term == "cycle_latent":
        for name in CYCLE_ENCODINGS:
            p[name] = torch.zeros_like(p[name])
    return p


@pytest.mark.parametrize("term", list(UDTSeparation.term_groups))
def test_each_loss_term_is_zero_exactly_when_its_identity_holds(term):
    p, mixture, clean = random_paths()
    terms = translation_terms(mixture, clean, p)
    assert set(terms) == set(UDTSeparation.term_groups)
    assert all(v > 0 for v in terms.values())
    held = translation_terms(mixture, clean, identity_holds(term, p, mixture, clean))
    assert held[term] == 0
    assert all(held[other] > 0 for other in held if other != term)  # the term reads its own identity only


def test_the_terms_take_unit_s_weights_and_each_changes_the_gradient_when_removed():
    assert {k: UDTSeparation.training_defaults[k] for k in ("reconstruction", "latent", "cycle", "cycle_latent")} \
        == {"reconstruction": 10.0, "latent": 0.01, "cycle": 10.0, "cycle_latent": 0.01}
    model = small_cycle_vaes()
    weights = {k: UDTSeparation.training_defaults[k] for k in set(UDTSeparation.term_groups.values())}
    mixture, clean = torch.rand(2, 16, 12), torch.rand(2, 16, 12)

    def gradient(without: str | None):
        model.zero_grad()
        torch.manual_seed(5)  # the same latent noise and dropout masks in every pass
        terms = translation_terms(mixture, clean, translation_paths(model, mixture, clean))
        terms.pop(without, None)
        weighted_sum(terms, weights, UDTSeparation.term_groups).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    full = gradient(None)
    assert torch.equal(full, gradient(None))  # reproducible, so a difference is the term's
    for term in UDTSeparation.term_groups:
        assert not torch.allclose(full, gradient(term), rtol=0, atol=1e-9), term


def test_the_cycle_terms_take_the_paths_of_section_3_2_2():
    model = small_cycle_vaes().eval()  # z = h: the paths are plain compositions
    m, c = torch.rand(2, 16, 12), torch.rand(2, 16, 12)
    E_s, E_t, D_s, D_t = model.encode_mixture, model.encode_clean, model.decode_mixture, model.decode_clean
    p = translation_paths(model, m, c)
    expected = {"E_s(D_s(z_s))": E_s(D_s(E_s(m))), "E_t(D_t(z_t))": E_t(D_t(E_t(c))),
                "E_t(D_t(z_s))": E_t(D_t(E_s(m))), "E_s(D_s(z_t))": E_s(D_s(E_t(c)))}
    for name, value in expected.items():
        torch.testing.assert_close(p[name], value)
    # The domains' encoders differ, so a path through the other domain's encoder would not match.
    assert not torch.allclose(E_s(D_t(E_s(m))), expected["E_t(D_t(z_s))"])
    terms = translation_terms(m, c, p)
    torch.testing.assert_close(terms["cycle_straight_mixture"], F.mse_loss(E_s(D_s(E_s(m))), E_s(m)))
    torch.testing.assert_close(terms["cycle_straight_clean"], F.mse_loss(E_t(D_t(E_t(c))), E_t(c)))
    torch.testing.assert_close(terms["cycle_cross_mixture"], F.mse_loss(E_t(D_t(E_s(m))), E_s(m)))
    torch.testing.assert_close(terms["cycle_cross_clean"], F.mse_loss(E_s(D_s(E_t(c))), E_t(c)))
    torch.testing.assert_close(terms["reconstruction_mixture"], F.mse_loss(D_s(E_s(m)), m))
    torch.testing.assert_close(terms["reconstruction_clean"], F.mse_loss(D_t(E_t(c)), c))


# -- the front end and inference ----------------------------------------------------------------------
def test_the_front_end_drops_the_nyquist_bin_and_round_trips_with_the_signal_s_own_phase():
    front = PowerSpectrogram(n_fft=64, hop=16)
    x = torch.randn(2, 800, dtype=torch.float64)
    features = front.features(x)
    assert features.shape == (2, 32, 1 + 800 // 16)
    spec = front.stft(x)
    torch.testing.assert_close(features, spec[..., :32, :].abs() ** 0.7)
    back = front.waveform(features, spec, 800)
    lost = front.waveform(torch.zeros_like(features), spec, 800)  # nothing but what the Nyquist bin held
    assert torch.count_nonzero(lost) == 0
    nyquist_only = torch.istft(torch.nn.functional.pad(spec[..., 32:, :], (0, 0, 32, 0)), 64, 16,
                               window=torch.hann_window(64, dtype=torch.float64), length=800)
    torch.testing.assert_close(back, x - nyquist_only)


class Halve(torch.nn.Module):
    """A stand-in network for the inference path: half of every feature."""

    def forward(self, features):
        return 0.5 * features


def test_inference_takes_the_mixture_s_phase_and_returns_female_then_the_rest():
    method = build_method("udt-separation")
    method.front, method.model = PowerSpectrogram(n_fft=256, hop=64), Halve()
    rng = np.random.default_rng(0)
    mixture = np.convolve(rng.standard_normal(4000), [0.25, 0.5, 0.25], mode="same").astype(np.float32)  # ~0 at Nyquist
    out = method.restore(Observation(mixture, 8000, "separation", known={"num_sources": 2}), RunContext()).signal
    assert out.shape == (2, 4000)
    np.testing.assert_allclose(out[0] + out[1], mixture, atol=1e-5)
    # Half of the features is 0.5 ** (1 / 0.7) of the magnitude: with the mixture's phase, that fraction of
    # the mixture itself (but for the dropped Nyquist bin); any other phase would not give it back.
    scale = 0.5 ** (1 / 0.7)
    residual = out[0] - scale * mixture
    assert np.sum(residual ** 2) < 1e-3 * np.sum((scale * mixture) ** 2)


class Triple(torch.nn.Module):
    def forward(self, x):
        return 3 * x


@pytest.mark.parametrize("estimate", ["mask", "spectrogram"])
def test_the_mask_readout_clips_the_ratio_to_the_mixture_and_the_spectrogram_one_does_not(estimate):
    method = build_method("udt-separation", {"estimate": estimate})
    method.front, method.model = PowerSpectrogram(n_fft=256, hop=64), Triple()
    rng = np.random.default_rng(1)
    mixture = np.convolve(rng.standard_normal(4000), [0.25, 0.5, 0.25], mode="same").astype(np.float32)
    female = method.restore(Observation(mixture, 8000, "separation", known={"num_sources": 2}),
                            RunContext()).signal[0]
    scale = 1.0 if estimate == "mask" else 3 ** (1 / 0.7)  # a ratio mask above 1 is clipped to 1
    assert np.sum((female - scale * mixture) ** 2) < 1e-3 * np.sum((scale * mixture) ** 2)
    with pytest.raises(ValueError, match="estimate must be one of"):
        build_method("udt-separation", {"estimate": "wave"})


# -- what each method trains on -------------------------------------------------------------------------
SR = 2000
FEMALE_ITEMS, MALE_ITEMS, CLEAN_ITEMS = ["0000", "0030"], ["0060"], ["0095"]  # test-tone: 200 + item % 100 Hz
FRONT_TRAIN = {"n_fft": 512, "hop": 128, "snippet_seconds": 0.5}


def tone_data(sources: dict[str, list[str]]) -> TrainingData:
    data = TrainingData()
    for name, items in sources.items():
        data[name] = TrainingSource(name, build_dataset("test-tone"), items, SR, 1.0)
    return data


def protocol(cls, **extra):
    return {**cls.training_defaults, "epochs": 1, "examples_per_epoch": 6, "batch_size": 3, **FRONT_TRAIN, **extra}


def band_energy(features: torch.Tensor, hz: float) -> torch.Tensor:
    """Each example's mean feature in the bins around ``hz`` (features (N, C, T), n_fft 512 at 2 kHz: 3.9 Hz bins)."""
    k = int(round(hz * FRONT_TRAIN["n_fft"] / SR))
    return features[:, k - 1:k + 2, :].mean(dim=(1, 2))


def voices_of(features: torch.Tensor) -> list[set[int]]:
    """Per example, which tones (Hz) hold energy (a tenth of the strongest or more)."""
    tones = (200, 230, 260, 295)
    energies = torch.stack([band_energy(features, hz) for hz in tones], dim=1)
    return [{hz for hz, e in zip(tones, row) if e >= 0.1 * row.max()} for row in energies]


def recorded_batches(monkeypatch, folder, cls, data, **extra):
    """Train ``cls`` one epoch on ``data``; the batches that reached its loss."""
    seen = []
    original = cls.loss_terms

    def spy(self, model, batch):
        seen.append({k: v.detach().clone() for k, v in batch.items()})
        return original(self, model, batch)

    monkeypatch.setattr(cls, "loss_terms", spy)
    method = cls()
    method.fit(data, TrainingContext(folder=folder, protocol=protocol(cls, **extra)))
    return seen


def clean_targets_leaked(batches) -> bool:
    """Does any clean example hold a voice of the mixtures' female speakers (200 or 230 Hz)?"""
    return any(voices & {200, 230} for batch in batches for voices in voices_of(batch["clean"]))


def test_udt_never_sees_the_clean_female_snippet_of_a_mixture(monkeypatch, tmp_path):
    data = tone_data({"mixture_female": FEMALE_ITEMS, "mixture_male": MALE_ITEMS, "clean_female": CLEAN_ITEMS})
    batches = recorded_batches(monkeypatch, tmp_path, UDTSeparation, data)
    assert len(batches) == 2 and set(batches[0]) == {"mixture", "clean"}
    for batch in batches:  # the mixtures hold a female (200 or 230 Hz) and the male (260 Hz) voice
        assert all(v & {200, 230} and 260 in v for v in voices_of(batch["mixture"]))
        assert all(v == {295} for v in voices_of(batch["clean"]))  # the clean examples: DR2's voice only
    assert not clean_targets_leaked(batches)


def test_the_leak_check_catches_a_udt_that_trains_on_the_paired_targets(monkeypatch, tmp_path):
    """A UDT that took the mixtures' own female snippets as its clean domain fails the check above."""
    from bench.methods.support import speaker_mixtures

    class LeakyUDT(UDTSeparation):
        def draw(self, pools, count, length, rng):
            mixtures, female = speaker_mixtures.mixture_pairs(pools["female"], pools["male"], count, length, rng)
            return {"mixture": mixtures, "clean": female}

    data = tone_data({"mixture_female": FEMALE_ITEMS, "mixture_male": MALE_ITEMS, "clean_female": CLEAN_ITEMS})
    assert clean_targets_leaked(recorded_batches(monkeypatch, tmp_path, LeakyUDT, data))


def test_the_supervised_vae_trains_on_each_mixture_paired_with_its_own_female_snippet(monkeypatch, tmp_path):
    assert set(SupervisedVAESeparation.training_data) == {"mixture_female", "mixture_male"}
    assert set(UDTSeparation.training_data) == {"mixture_female", "mixture_male", "clean_female"}
    data = tone_data({"mixture_female": FEMALE_ITEMS, "mixture_male": MALE_ITEMS})
    batches = recorded_batches(monkeypatch, tmp_path, SupervisedVAESeparation, data, examples_per_epoch=12)
    female_in_mixture = [v & {200, 230} for b in batches for v in voices_of(b["mixture"])]
    female_target = [v for b in batches for v in voices_of(b["target"])]
    assert female_target == female_in_mixture  # the target is the female voice of that very mixture
    assert {frozenset(v) for v in female_target} == {frozenset({200}), frozenset({230})}  # both speakers drawn


def test_training_mixtures_are_at_0_db():
    from bench.methods.support.speaker_mixtures import mixture_pairs

    rng = np.random.default_rng(0)
    female = [rng.standard_normal(3000) * 0.1]
    male = [rng.standard_normal(2000) * 3.0]
    mixtures, targets = mixture_pairs(female, male, 4, 1000, np.random.default_rng(1))
    males = mixtures - targets
    np.testing.assert_allclose(np.sum(males ** 2, axis=1), np.sum(targets ** 2, axis=1), rtol=1e-4)
    assert not np.allclose(targets[0], targets[1])  # random snippets


@pytest.mark.parametrize("name", ["udt-separation", "supervised-vae-separation"])
def test_a_few_training_steps_lower_the_loss_and_the_trained_file_restores(tmp_path, name):
    def source(voice):
        return {"name": "synthetic-speech", "params": {"voice": voice}, "split": "train",
                "items": ["00000", "00001", "00002"], "sample_rate": 8000, "seconds": 0.5, "revision": "1"}

    cls = UDTSeparation if name == "udt-separation" else SupervisedVAESeparation
    data = {k: source("male" if k == "mixture_male" else "female") for k in cls.training_data}
    training = {**cls.training_defaults, "epochs": 5, "examples_per_epoch": 8, "batch_size": 4, "lr": 3e-3,
                "n_fft": 64, "hop": 16, "snippet_seconds": 0.25}
    job = TrainingJob({"format": 1, "method": {"name": name, "version": "1", "params": {}}, "data": data,
                       "training": training, "seed": 0, "versions": {}})
    state = run_job(job, tmp_path)
    assert state["state"] == "done", state.get("error")
    losses = state["losses"]
    assert len(losses) == 5 and losses[-1] < 0.8 * losses[0]
    method = build_method(name)
    method.load_trained(job.folder(tmp_path) / "trained.pt")
    assert method.front == PowerSpectrogram(n_fft=64, hop=16) and not method.model.training
    x = np.random.default_rng(0).standard_normal(2000).astype(np.float32) * 0.1
    out = method.restore(Observation(x, 8000, "separation", known={"num_sources": 2}), RunContext()).signal
    assert out.shape == (2, 2000) and np.isfinite(out).all()


def test_the_supervised_net_has_the_same_encoder_and_decoder():
    udt, supervised = small_cycle_vaes(), DenoisingVAE(16, FRONT)
    shapes = lambda seq: [tuple(p.shape) for p in seq.parameters()]  # noqa: E731
    assert shapes(supervised.encode) == shapes(udt.encode_mixture)
    assert shapes(supervised.decode) == shapes(udt.decode_clean)


# -- the classical reference -----------------------------------------------------------------------------
def test_nmf_with_a_learned_female_dictionary_extracts_that_voice(tmp_path):
    data = {"clean_female": {"name": "test-tone", "params": {}, "split": "test", "items": ["0095"],
                             "sample_rate": SR, "seconds": 1.0, "revision": "1"}}
    params = {"components": 4, "free_components": 4, "n_fft": 512, "hop": 128}
    job = TrainingJob({"format": 1, "method": {"name": "nmf-dictionary-separation", "version": "1",
                                               "params": params}, "data": data,
                       "training": {"epochs": 1, "dictionary_iterations": 100}, "seed": 0, "versions": {}})
    assert run_job(job, tmp_path)["state"] == "done"
    method = build_method("nmf-dictionary-separation", params)
    method.load_trained(job.folder(tmp_path) / "trained.pt")
    t = np.arange(SR) / SR
    female, male = 0.5 * np.sin(2 * np.pi * 295 * t + 1.0), 0.5 * np.sin(2 * np.pi * 210 * t)
    out = method.restore(Observation((female + male).astype(np.float32), SR, "separation",
                                     known={"num_sources": 2}), RunContext(seed=0)).signal
    core = slice(SR // 8, -SR // 8)  # away from the edge frames
    error = np.sum((out[0] - female)[core] ** 2) / np.sum(female[core] ** 2)
    assert error < 0.05
    np.testing.assert_allclose(out[0] + out[1], female + male, atol=1e-5)


# -- stand-ins and the suite ---------------------------------------------------------------------------
def test_timit_stand_ins_of_disjoint_dialect_regions_share_no_clip():
    def first_clip(**params):
        timit = build_dataset("timit", params)
        standin = build_dataset(timit.standin, timit.standin_params)
        return standin.load("00003", sr=8000, seconds=0.25, rng=np.random.default_rng(7)).samples

    dr1 = first_clip(gender="F", dialect_regions=["DR1"])
    assert np.array_equal(dr1, first_clip(gender="F", dialect_regions=["DR1"]))
    assert not np.allclose(dr1, first_clip(gender="F", dialect_regions=["DR2"]))
    assert build_dataset("timit", {"gender": "M", "dialect_regions": ["DR3"]}).standin_params == \
        {"voice": "male", "tract": "all-pole", "speakers": "DR3"}
    assert build_dataset("timit", {"gender": "F"}).standin_params == {"voice": "female", "tract": "all-pole"}


def test_the_suite_s_stand_ins_keep_genders_and_regions_apart(tmp_path):
    from bench.planning.cells import expand
    from bench.planning.suite import load_suite

    cells = expand(load_suite("venkataramani2019-figure3"), "smoke", synthetic=True, data_root=tmp_path)
    jobs = {c.labels["method"]: c.training for c in cells if c.training is not None}
    udt = jobs["UDT"].config["data"]
    assert {k: (v["name"], v["params"], v["split"], v["standin_for"]) for k, v in udt.items()} == {
        "mixture_female": ("synthetic-speech", {"voice": "female", "tract": "all-pole", "speakers": "DR1"}, "train", "timit"),
        "mixture_male": ("synthetic-speech", {"voice": "male", "tract": "all-pole", "speakers": "DR1"}, "train", "timit"),
        "clean_female": ("synthetic-speech", {"voice": "female", "tract": "all-pole", "speakers": "DR2"}, "train", "timit")}
    assert set(jobs["Supervised VAE"].config["data"]) == {"mixture_female", "mixture_male"}
    assert jobs["UDT"].config["training"]["n_fft"] == 256  # the smoke size
    test = next(c for c in cells if c.labels["dataset"] == "Test mixtures (DR3)")
    assert [s["params"] for s in test.config["dataset"]["params"]["sources"]] == \
        [{"voice": "female", "tract": "all-pole", "speakers": "DR3"},
         {"voice": "male", "tract": "all-pole", "speakers": "DR3"}]
    on_training = {c.labels["method"] for c in cells if c.labels["dataset"] == "Training mixtures (DR1)"}
    assert on_training == {"UDT"}


def test_the_smoke_suite_trains_scores_and_reports_medians_quartiles_and_box_plots(tmp_path, capsys):
    from bench.cli import main

    common = ["--suite", "venkataramani2019-figure3", "--profile", "smoke", "--synthetic",
              "--results", str(tmp_path / "results"), "--data", str(tmp_path / "no-data")]
    assert main(["run", *common, "--jobs", "1"]) == 0
    capsys.readouterr()
    assert main(["report", *common, "--figures", str(tmp_path / "figs")]) == 0
    report = capsys.readouterr().out
    udt_test = next(line for line in report.splitlines() if "Test mixtures (DR3)" in line and "paper 7.50" in line)
    assert re.search(r"-?\d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\] \(n=2\) \[paper 7\.50", udt_test)
    assert "Training mixtures (DR1)" in report and "Supervised VAE" in report and "paper 9.50" in report
    assert (tmp_path / "figs" / "venkataramani2019-figure3-box-si-sdr-src1.png").is_file()


class Scale(torch.nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return self.factor * x


def test_udt_separates_through_the_mixture_encoder_and_the_clean_decoder():
    """Inference is D_t(E_s(M)) (Section 3.1). A planted network whose encoders and decoders scale by their
    own factors (a trained network's paths differ; a freshly initialised one's barely do): the estimate's
    features are 0.5 x 1 of the mixture's, not D_s(E_s) = 2 x 1, D_t(E_t) = 0.5 x 3 nor D_s(E_t) = 2 x 3."""
    method = build_method("udt-separation")
    method.front = PowerSpectrogram(n_fft=256, hop=64)
    method.model = model = small_cycle_vaes(channels=128).eval()
    model.encode_mixture, model.encode_clean = Scale(1.0), Scale(3.0)
    model.decode_mixture, model.decode_clean = Scale(2.0), Scale(0.5)
    rng = np.random.default_rng(0)
    mixture = np.convolve(rng.standard_normal(4000), [0.25, 0.5, 0.25], mode="same").astype(np.float32)
    estimate = method.restore(Observation(mixture, 8000, "separation", known={"num_sources": 2}), RunContext()).signal[0]
    # features scaled by g are magnitudes scaled by g ** (1 / 0.7): with the mixture's phase, that much of
    # the mixture (but for the dropped Nyquist bin, ~0 here)
    for gain, right in ((0.5, True), (2.0, False), (1.5, False), (6.0, False)):
        expected = gain ** (1 / 0.7) * mixture
        close = np.sum((estimate - expected) ** 2) < 1e-3 * np.sum(expected ** 2)
        assert close == right, gain


# UNIT's loss weights (REFERENCE-NOTES, mingyuliutw/UNIT: "reconstruction 10, KL 0.01, cycle reconstruction 10,
# cycle KL 0.01"), written here rather than read from the method's defaults.
UNIT_WEIGHTS = {"reconstruction_mixture": 10.0, "reconstruction_clean": 10.0, "latent_mixture": 0.01,
                "latent_clean": 0.01, "cycle_straight_mixture": 10.0, "cycle_straight_clean": 10.0,
                "cycle_cross_mixture": 10.0, "cycle_cross_clean": 10.0, "cycle_latent": 0.01}
VAE_WEIGHTS = {"reconstruction": 10.0, "latent": 0.01}


@pytest.mark.parametrize("cls, weights, sources", [
    (UDTSeparation, UNIT_WEIGHTS, {"mixture_female": FEMALE_ITEMS, "mixture_male": MALE_ITEMS,
                                   "clean_female": CLEAN_ITEMS}),
    (SupervisedVAESeparation, VAE_WEIGHTS, {"mixture_female": FEMALE_ITEMS, "mixture_male": MALE_ITEMS})])
def test_the_loss_a_fit_minimises_is_every_term_at_units_weight(monkeypatch, tmp_path, cls, weights, sources):
    """One optimiser step under the method's default training keys: the loss it steps on is the sum of its
    terms at UNIT's weights, and every term's share is far above rounding, so a term dropped or weighted 0,
    or a weight 100 times too large, changes that loss (each term checked on its own)."""
    seen = []
    original = cls.loss_terms

    def spy(self, model, batch):
        terms = original(self, model, batch)
        seen.append({name: float(value.detach()) for name, value in terms.items()})
        return terms

    monkeypatch.setattr(cls, "loss_terms", spy)
    context = TrainingContext(folder=tmp_path, protocol=protocol(cls, examples_per_epoch=3))
    cls().fit(tone_data(sources), context)
    (terms,) = seen
    (loss,) = context.losses
    assert set(terms) == set(weights)
    expected = sum(weights[name] * value for name, value in terms.items())
    assert loss == pytest.approx(expected, rel=1e-6)
    for name, value in terms.items():  # each share is 10x past the float32 rounding the check allows
        share = weights[name] * value
        assert share > 1e-5 * loss, name
        assert expected - share != pytest.approx(loss, rel=1e-6), name  # the loss without this term


# -- from the survivors of mutation testing (benchmarks/mutation.md, 2026-12-07 second session) -------------
def test_the_latent_penalties_are_mean_squares_of_the_encodings():
    p, mixture, clean = random_paths()
    terms = translation_terms(mixture, clean, p)
    assert terms["latent_mixture"] == pytest.approx(p["h_s"].pow(2).mean().item(), rel=1e-6)
    assert terms["latent_clean"] == pytest.approx(p["h_t"].pow(2).mean().item(), rel=1e-6)
    assert terms["cycle_latent"] == pytest.approx(sum(p[n].pow(2).mean().item() for n in CYCLE_ENCODINGS), rel=1e-6)
    torch.manual_seed(0)
    net = DenoisingVAE(16, FRONT).eval()
    batch = {"mixture": torch.rand(2, 16, 10), "target": torch.rand(2, 16, 10)}
    with torch.no_grad():
        latent = SupervisedVAESeparation().loss_terms(net, batch)["latent"]
        assert latent.item() == pytest.approx(net.encode(batch["mixture"]).pow(2).mean().item(), rel=1e-6)


def test_the_latent_is_sampled_exactly_while_training(monkeypatch):
    import bench.methods.networks.spectrogram_vaes as networks
    import bench.methods.style_transfer_separation as udt

    h = torch.zeros(4, 16, 1000)
    assert networks.sample_latent(h, True).std().item() == pytest.approx(1.0, rel=0.02)  # z = h + N(0, I)
    assert torch.equal(networks.sample_latent(h, False), h)
    calls = []
    recording = lambda h, training: (calls.append(training), h)[1]  # noqa: E731
    monkeypatch.setattr(networks, "sample_latent", recording)
    monkeypatch.setattr(udt, "sample_latent", recording)
    x = torch.rand(2, 16, 10)
    for training in (True, False):
        cycle, denoising = small_cycle_vaes().train(training), DenoisingVAE(16, FRONT).train(training)
        calls.clear()
        translation_paths(cycle, x, x)
        cycle(x)
        denoising(x)
        SupervisedVAESeparation().loss_terms(denoising, {"mixture": x, "target": x})
        assert calls == [training] * 5


def test_every_block_but_the_decoders_last_ends_in_batch_norm_and_dropout_0_3():
    net = small_cycle_vaes()
    for stack in (net.encode_mixture, net.encode_clean, net.decode_mixture, net.decode_clean):
        for k, block in enumerate(stack):
            if stack in (net.decode_mixture, net.decode_clean) and k == len(stack) - 1:
                assert isinstance(block.post, torch.nn.Identity)  # the estimated magnitude itself
            else:
                norm, dropout = block.post
                assert isinstance(norm, torch.nn.BatchNorm1d) and dropout.p == 0.3


def test_udt_builds_the_network_with_its_shared_blocks_and_records_its_estimate():
    method = UDTSeparation(estimate="spectrogram")
    method.shared_blocks = 2
    assert method.network(16, FRONT).shared_blocks == 2
    assert method.params == {"estimate": "spectrogram"}


def test_udt_trains_with_units_adam_and_the_protocols_rate_and_decay(monkeypatch, tmp_path):
    seen = {}

    class Recording(torch.optim.Adam):
        def __init__(self, params, **options):
            seen.update(options)
            super().__init__(params, **options)

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    data = {k: {"name": "synthetic-speech", "params": {"voice": "male" if k == "mixture_male" else "female"},
                "split": "train", "items": ["00000", "00001"], "sample_rate": 8000, "seconds": 0.5, "revision": "1"}
            for k in UDTSeparation.training_data}
    training = {**UDTSeparation.training_defaults, "epochs": 1, "examples_per_epoch": 2, "batch_size": 2,
                "lr": 3e-3, "weight_decay": 1e-5, "n_fft": 64, "hop": 32, "snippet_seconds": 0.25}
    job = TrainingJob({"format": 1, "method": {"name": "udt-separation", "version": "1", "params": {}}, "data": data,
                       "training": training, "seed": 0, "versions": {}})
    assert run_job(job, tmp_path)["state"] == "done"
    assert seen == {"lr": 3e-3, "betas": (0.5, 0.999), "weight_decay": 1e-5}  # UNIT's betas
    method = build_method("udt-separation")
    method.load_trained(job.folder(tmp_path) / "trained.pt")
    assert method.front == PowerSpectrogram(n_fft=64, hop=32)  # the protocol's STFT, not the default hop


def test_a_mixture_of_three_sources_is_refused():
    method = UDTSeparation()
    method.model = small_cycle_vaes().eval()
    with pytest.raises(ValueError, match="one voice of a two-source mixture; the observation has 3 sources"):
        method.restore(Observation(np.zeros(800, np.float32), 8000, "separation", known={"num_sources": 3}),
                       RunContext())


def test_the_figure3_suite_scores_the_papers_30_mixtures_of_2_s_at_0_db():
    """Sec. 4: "We then randomly select 2-sec snippets from each selected recording and mix them at 0 dB to
    generate the mixture." and "We show these plots on a set of 30 mixtures for each case." Found by mutating
    the suites' parameters (benchmarks/mutate_suite_parameters.py)."""
    import tomllib

    from bench.planning.suite import load_suite

    raw = tomllib.loads(load_suite("venkataramani2019-figure3").path.read_text())
    assert (raw["items"], raw["seconds"]) == (30, 2.0)
    (mixing,) = raw["corruptions"]
    assert (mixing["name"], mixing["params"]) == ("mixture", {"ratio_db": 0.0})
