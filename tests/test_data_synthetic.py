"""The synthetic stand-in corpora: deterministic, structured, and shaped like the corpora they replace."""
import numpy as np
import pytest
from bench.datasets.synthetic_digits import digit_template
from scipy.linalg import solve_toeplitz

from bench.components.dataset import build_dataset
from bench.core.registry import DATASETS

SYNTHETIC = ["synthetic-speech", "synthetic-digits", "synthetic-piano", "synthetic-drums", "synthetic-noise",
             "synthetic-singing"]


def clip(name, item="09001", params=None, seed=1, sr=16000, seconds=1.0):
    return build_dataset(name, params or {}).load(item, sr=sr, seconds=seconds, rng=np.random.default_rng(seed))


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_corpora_are_deterministic_finite_and_sized(name):
    a, b, other = clip(name), clip(name), clip(name, "09002", seed=2)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, other.samples)
    assert a.samples.shape[-1] == 16000 and np.all(np.isfinite(a.samples))
    mix = a.samples.sum(axis=0) if a.samples.ndim == 2 else a.samples
    assert 0.5 <= np.max(np.abs(mix)) <= 0.9 + 1e-6
    assert clip(name, sr=8000, seconds=0.5).samples.shape[-1] == 4000
    assert a.meta["synthetic"] is True and DATASETS.get(name).obj.synthetic


def test_synthetic_splits_are_disjoint_and_checked():
    ds = build_dataset("synthetic-digits", {})
    train, valid, test = (set(ds.item_ids(s)) for s in ("train", "valid", "test"))
    assert len(test) == 1000 and not (train & test) and not (valid & test)
    assert set(ds.item_ids("all")) == train | valid | test
    with pytest.raises(ValueError, match="no split 'validation'"):
        ds.item_ids("validation")


def prediction_gain_db(x, order=16):
    """How much of a signal an order-16 linear predictor explains (white noise: about 0 dB)."""
    x = x - x.mean()
    r = np.correlate(x, x, "full")[x.size - 1:x.size + order] / x.size
    a = solve_toeplitz(r[:order], r[1:order + 1])
    residual = x[order:] - sum(a[k] * x[order - 1 - k:x.size - 1 - k] for k in range(order))
    return 10 * np.log10(np.var(x[order:]) / np.var(residual))


@pytest.mark.parametrize("name", ["synthetic-speech", "synthetic-digits", "synthetic-piano", "synthetic-singing"])
def test_structured_corpora_are_predictable_where_white_noise_is_not(name):
    """Segmental prediction gain (the median over the sounding 32 ms frames), the measure of speech coding."""
    def segmental(x, frame=512):
        return np.median([prediction_gain_db(x[s:s + frame]) for s in range(0, x.size - frame, frame)
                          if np.sqrt(np.mean(x[s:s + frame] ** 2)) > 1e-3])

    gains = []
    for i in range(5):
        s = clip(name, f"0900{i}", seed=i).samples
        gains.append(segmental(s[0] if s.ndim == 2 else s))  # singing: the vocals
    assert segmental(np.random.default_rng(0).standard_normal(16000)) < 0.5
    assert min(gains) > 6 and np.median(gains) > 12, gains


def median_f0(x, sr):
    """Autocorrelation pitch of the loud 40 ms frames (70-400 Hz)."""
    frame, f0s = int(0.04 * sr), []
    for start in range(0, x.size - frame, frame):
        seg = x[start:start + frame] - x[start:start + frame].mean()
        if np.sqrt(np.mean(seg**2)) < 0.05:
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1:]
        lo, hi = int(sr / 400), int(sr / 70)
        f0s.append(sr / (lo + int(np.argmax(ac[lo:hi]))))
    return float(np.median(f0s))


def test_male_and_female_voices_differ_in_pitch():
    male = [median_f0(clip("synthetic-speech", f"0900{i}", {"voice": "male"}, seed=i, seconds=2).samples, 16000)
            for i in range(4)]
    female = [median_f0(clip("synthetic-speech", f"0900{i}", {"voice": "female"}, seed=i, seconds=2).samples, 16000)
              for i in range(4)]
    assert max(male) < 165 < min(female), (male, female)
    assert clip("synthetic-speech", params={"voice": "female"}).meta["voice"] == "female"
    with pytest.raises(ValueError, match="voice must be one of any, male, female"):
        build_dataset("synthetic-speech", {"voice": "child"})


def test_the_all_pole_vocal_tract_is_one_at_dc_f_over_b_at_a_formant_and_falls_12_db_an_octave():
    from bench.datasets.synthetic import vocal_tract
    formant, bandwidth = np.array([[500.0]]), np.array([[80.0]])
    gain = vocal_tract(np.array([0.0, 500.0, 8000.0, 16000.0]), formant, bandwidth)
    assert gain[0] == pytest.approx(1.0)
    assert gain[1] == pytest.approx(500.0 / 80.0)  # (a resonance peak normalised to 1 would give 1)
    assert 20 * np.log10(gain[2] / gain[3]) == pytest.approx(12.0, abs=0.1)


def band_shares_db(x: np.ndarray, sr: int, edges=(0, 1000, 8000)) -> list[float]:
    freqs = np.fft.rfftfreq(512, 1 / sr)
    frames = np.lib.stride_tricks.sliding_window_view(x, 512)[::128] * np.hanning(512)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    return [10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum()) for lo, hi in zip(edges, edges[1:])]


def test_the_all_pole_stand_in_has_speechs_energy_below_1_khz_and_the_resonances_do_not():
    """Real speech (CMU ARCTIC's slt, measured): about 80 % of its energy below 1 kHz. The all-pole stand-in
    has most of it there; version 1's resonances most above it."""
    def shares(tract):
        x = np.concatenate([clip("synthetic-speech", f"0900{i}", {"voice": "female", "tract": tract}, seed=i,
                                 seconds=2).samples for i in range(4)])
        return band_shares_db(x, 16000)
    below, above = shares("all-pole")
    assert below > -1.5 and above < -6  # more than 70 % of the energy below 1 kHz
    below, above = shares("resonances")
    assert below < -3 < above
    default = build_dataset("synthetic-speech", {"voice": "female"})
    assert default.tract == "resonances" and "tract" not in default.params  # version 1's keys unchanged
    with pytest.raises(ValueError, match="tract must be one of resonances, all-pole"):
        build_dataset("synthetic-speech", {"tract": "tube"})


def test_digits_are_words_from_ten_fixed_templates_with_silence_around():
    assert [len(digit_template(d)) for d in range(10)] == [2, 1, 1, 1, 1, 1, 1, 2, 1, 1]
    first = digit_template(3)[0]
    np.testing.assert_array_equal(first["formants"], digit_template(3)[0]["formants"])
    assert not np.allclose(first["formants"], digit_template(4)[0]["formants"])
    digits = set()
    for i in range(20):
        c = clip("synthetic-digits", f"09{i:03d}", seed=i)
        digits.add(c.meta["digit"])
        energy = c.samples**2
        assert energy[:800].sum() < 1e-3 * energy.sum() and energy[-800:].sum() < 1e-3 * energy.sum()
    assert len(digits) >= 6


def test_singing_stems_are_vocals_and_accompaniment_at_the_stated_ratio():
    c = clip("synthetic-singing", seconds=2.0)
    assert c.samples.shape == (2, 32000) and c.meta["sources"] == ["vocals", "accompaniment"]
    vocals, accompaniment = c.samples.astype(np.float64)
    ratio = 10 * np.log10(np.sum(vocals**2) / np.sum(accompaniment**2))
    assert ratio == pytest.approx(c.meta["vocals_to_accompaniment_db"], abs=0.01)
    assert -6 <= ratio <= 3
    assert median_f0(vocals / np.max(np.abs(vocals)), 16000) > 90


def test_singing_sources_pick_stems_as_the_musdb18_loader_does():
    both = clip("synthetic-singing").samples
    vocals = clip("synthetic-singing", params={"sources": ["vocals"]})
    assert vocals.samples.shape == (16000,) and vocals.meta["sources"] == ["vocals"]
    assert np.corrcoef(vocals.samples, both[0])[0, 1] > 0.999  # the same voice, only scaled apart
    three = clip("synthetic-singing", params={"sources": ["mixture", "vocals", "accompaniment"]}).samples
    np.testing.assert_allclose(three[0], three[1] + three[2], atol=1e-6)
    with pytest.raises(ValueError, match="sources must be among"):
        build_dataset("synthetic-singing", {"sources": ["drums"]})
