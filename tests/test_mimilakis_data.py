"""Data pieces of the Mimilakis et al. (2020) tables: MUSDB18 1 s segments with the code's silence rule,
the reconstruction corruption, the mixture at natural levels with oracle sources, suites' ``items = "all"``."""
from __future__ import annotations

import corpus_fixtures as fx
import numpy as np
import pytest

from bench.components.dataset import build_dataset
from bench.core.audio import Clip
from bench.corruptions import build_corruption


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def test_musdb_segments_are_every_kept_one_second_window_in_time_order(tmp_path):
    written = fx.musdb(tmp_path)  # 4 s tracks
    name = "test/Al James - Schoolboy Facination"
    vocals = written[name]["vocals"]
    quiet = vocals.copy()
    quiet[44100:2 * 44100] *= 1e-3  # window 1 falls under the norm rule; the others stay
    fx.write_wav(tmp_path / "musdb18" / name / "vocals.wav", np.stack([quiet, quiet]), 44100, subtype="FLOAT")
    norms = [np.linalg.norm(quiet[k * 44100:(k + 1) * 44100]) for k in range(4)]
    assert norms[1] < 0.1 <= min(norms[0], norms[2], norms[3])
    ds = build_dataset("musdb18", {"segment_s": 1.0, "min_vocal_norm": 0.1}, tmp_path)
    items = ds.item_ids("test")
    assert [i for i in items if i.startswith(name)] == [f"{name}#{k}" for k in (0, 2, 3)]
    assert len(items) == 3 + 4 * (len(fx.MUSDB_TRACKS["test"]) - 1)
    assert not any(i.startswith("train/") for i in items)
    clip = ds.load(f"{name}#2", sr=44100, seconds=1.0)
    np.testing.assert_allclose(clip.samples[0], quiet[2 * 44100:3 * 44100], atol=1e-6)
    stems = written[name]
    np.testing.assert_allclose(clip.samples[1], (stems["drums"] + stems["bass"] + stems["other"])[2 * 44100:3 * 44100],
                               atol=1e-6)  # natural levels: nothing rescaled
    every = build_dataset("musdb18", {"segment_s": 1.0}, tmp_path).item_ids("test")
    assert f"{name}#1" in every
    with pytest.raises(ValueError, match="clips must be 1 s long"):
        ds.load(f"{name}#2", sr=44100, seconds=2.0)
    with pytest.raises(ValueError, match="segment_s must be positive"):
        build_dataset("musdb18", {"min_vocal_norm": 0.1}, tmp_path)


def test_source_reconstruction_observes_the_source_itself():
    stems = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
    obs = build_corruption("source-reconstruction", {}).apply(Clip(stems, 8000, "d", "i"), np.random.default_rng(0))
    assert obs.task == "reconstruction"
    np.testing.assert_array_equal(obs.signal, stems[0])
    np.testing.assert_array_equal(obs.reference, stems[0])
    second = build_corruption("source-reconstruction", {"source": 2}).apply(Clip(stems, 8000, "d", "i"), None)
    np.testing.assert_array_equal(second.signal, stems[1])
    with pytest.raises(ValueError, match="source 3 asked for"):
        build_corruption("source-reconstruction", {"source": 3}).apply(Clip(stems, 8000, "d", "i"), None)


def test_mixture_at_natural_levels_with_oracle_sources():
    stems = np.random.default_rng(1).standard_normal((2, 100)).astype(np.float32) * np.array([[0.1], [0.7]], np.float32)
    clip = Clip(stems, 8000, "d", "i")
    natural = build_corruption("mixture", {"natural_levels": True, "oracle": True})
    assert natural.params == {"ratio_db": 0.0, "natural_levels": True, "oracle": True}
    obs = natural.apply(clip, None)
    np.testing.assert_allclose(obs.signal, stems.sum(axis=0), atol=1e-6)
    np.testing.assert_allclose(obs.reference, stems, atol=1e-7)
    np.testing.assert_allclose(obs.for_method().known["sources"], stems, atol=1e-7)
    plain = build_corruption("mixture", {})
    assert plain.params == {"ratio_db": 0.0}  # the keys of existing suites do not change
    rescaled = plain.apply(clip, None)
    assert "sources" not in rescaled.known
    assert np.sum(rescaled.reference[1] ** 2) == pytest.approx(np.sum(stems[0] ** 2), rel=1e-5)
    silent = Clip(np.stack([stems[0], np.zeros(100, np.float32)]), 8000, "d", "i")
    assert natural.apply(silent, None).signal.shape == (100,)  # natural levels need no ratio


def test_items_all_lists_every_item_of_the_split(tmp_path):
    from bench.planning.cells import expand
    from bench.planning.suite import parse_suite

    fx.musdb(tmp_path)
    suite = parse_suite({"name": "t", "items": "all", "seconds": 1.0, "sample_rate": 8000, "metrics": ["si_sdr"],
                         "methods": [{"name": "identity"}],
                         "datasets": [{"name": "musdb18", "params": {"segment_s": 1.0}}],
                         "corruptions": [{"name": "mixture", "params": {"natural_levels": True}}]})
    cells = expand(suite, data_root=tmp_path)
    expected = build_dataset("musdb18", {"segment_s": 1.0}, tmp_path).item_ids("test")
    assert sorted(c.config["item"] for c in cells) == sorted(expected)
    smoke = expand(suite, profile="smoke", data_root=tmp_path)
    assert len(smoke) == 2
    with pytest.raises(ValueError, match='items must be a whole number from 1 to 1,000,000, or "all"'):
        parse_suite({"name": "t", "items": "every"})


def test_the_silence_rule_is_the_windows_l2_norm_not_its_rms_nor_its_energy(tmp_path):
    """Window levels chosen to tell the rules apart (1 s at 44.1 kHz: RMS = norm / 210, energy = norm^2):
    norm 0.05 is dropped by every rule; norm 0.2 is kept by the L2 norm but dropped by the energy (0.04) and
    the RMS (0.001); norm 5 is kept by the L2 norm and the energy but dropped by the RMS (0.024)."""
    written = fx.musdb(tmp_path)
    name = "test/Al James - Schoolboy Facination"
    vocals = written[name]["vocals"].astype(np.float64)
    n = 44100
    for k, norm in ((0, 0.2), (1, 0.05), (3, 5.0)):
        window = vocals[k * n:(k + 1) * n]
        vocals[k * n:(k + 1) * n] = window * norm / np.linalg.norm(window)
    fx.write_wav(tmp_path / "musdb18" / name / "vocals.wav", np.stack([vocals, vocals]), 44100, subtype="FLOAT")
    assert np.sqrt(np.mean(vocals[2 * n:3 * n] ** 2)) >= 0.1  # window 2 is loud by every rule
    items = build_dataset("musdb18", {"segment_s": 1.0, "min_vocal_norm": 0.1}, tmp_path).item_ids("test")
    assert [i for i in items if i.startswith(name)] == [f"{name}#{k}" for k in (0, 2, 3)]


def test_the_dae_trains_on_musdb_train_plus_valid_the_papers_100_tracks(tmp_path):
    from bench.methods.sinusoidal_dae import SinusoidalDAEMethod
    fx.musdb(tmp_path)  # two train/ tracks, the first one of musdb's validation tracks
    ds = build_dataset("musdb18", {"clips_per_file": 1}, tmp_path)
    train, valid = ds.item_ids("train"), ds.item_ids("valid")
    assert len(train) == 1 and len(valid) == 1  # musdb importable: the validation track is held out
    split = SinusoidalDAEMethod.training_data["tracks"]["split"]
    assert sorted(ds.item_ids(split)) == sorted(train + valid)
    segments = build_dataset("musdb18", {"segment_s": 1.0}, tmp_path)
    assert len(segments.item_ids("train+valid")) == 8
    with pytest.raises(ValueError, match="no split 'vald'"):
        ds.item_ids("train+vald")
    synthetic = build_dataset("synthetic-singing", {}, None)
    assert synthetic.item_ids("train+valid") == synthetic.item_ids("train") + synthetic.item_ids("valid")
