"""Environmental noise: SNR drawn in range and hit, noise excerpt from the corpus by seed, stand-in switching."""
import numpy as np
import pytest
import soundfile as sf
from bench.datasets.synthetic import speech_like

from bench.components.dataset import CorpusMissing, Dataset
from bench.core.audio import Clip
from bench.core.registry import DATASETS
from bench.corruptions import build_corruption
from bench.corruptions.environmental import EnvironmentalNoise

SR = 16000


class TinyNoise(Dataset):
    """Test corpus: <root>/test-tiny-noise/<name>.wav noise recordings; an excerpt at an rng-drawn offset."""

    kind = "noise"
    folder = "test-tiny-noise"
    standin = "synthetic-noise"

    @property
    def standin_params(self):
        return {"scene": "traffic" if self.params.get("environment") == "STRAFFIC" else "living"}

    def item_ids(self, split=None):
        if not self.root.is_dir():
            raise CorpusMissing(f"test-tiny-noise: expected wav files in {self.root}")
        return sorted(p.stem for p in self.root.glob("*.wav"))

    def load(self, item, *, sr, seconds, rng):
        samples, _ = sf.read(self.root / f"{item}.wav")
        n = int(round(seconds * sr))
        offset = int(rng.integers(0, samples.size - n + 1))
        return Clip(samples[offset:offset + n], sr, dataset="test-tiny-noise", item=item, offset=offset)


class TinyNoiseWithoutStandin(TinyNoise):
    folder = "test-tiny-noise-no-standin"
    standin = None


@pytest.fixture(scope="module", autouse=True)
def tiny_noise_registered():
    """Registered for this module only, so that no other test sees a dataset it did not expect."""
    DATASETS.add("test-tiny-noise", TinyNoise)
    DATASETS.add("test-tiny-noise-no-standin", TinyNoiseWithoutStandin)
    yield
    DATASETS._entries.pop("test-tiny-noise", None)
    DATASETS._entries.pop("test-tiny-noise-no-standin", None)


@pytest.fixture(scope="module")
def clip():
    x = speech_like(SR, SR, np.random.default_rng(2))
    return Clip(0.5 * x / np.max(np.abs(x)), SR)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "test-tiny-noise"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("fan", "street"):
        sf.write(folder / f"{name}.wav", rng.uniform(-0.5, 0.5, 4 * SR), SR, subtype="FLOAT")
    return tmp_path


def corrupt(clip, seed, data_root=None, **params):
    return build_corruption("environmental-noise", params, data_root).apply(clip, np.random.default_rng(seed))


def measured_snr(obs):
    reference = obs.reference.astype(np.float64)
    return 10 * np.log10(np.sum(reference**2) / np.sum((obs.signal - reference) ** 2))


def test_snr_is_drawn_in_range_and_hit(clip):
    seen = []
    for seed in range(8):
        obs = corrupt(clip, seed, noise="synthetic-noise", noise_params={"scene": "traffic"})
        assert 5.0 <= obs.info["target_snr_db"] <= 9.0
        assert measured_snr(obs) == pytest.approx(obs.info["target_snr_db"], abs=0.01)
        seen.append(obs.info["target_snr_db"])
    assert np.ptp(seen) > 1.0  # the draws spread over the range


def test_the_noise_is_an_excerpt_of_a_corpus_item_chosen_by_the_seed(clip, corpus):
    excerpts = set()
    for seed in range(6):
        obs = corrupt(clip, seed, corpus, noise="test-tiny-noise", snr_min=0, snr_max=0)
        item, offset = obs.info["noise_item"], obs.info["noise_offset"]
        recording, _ = sf.read(corpus / "test-tiny-noise" / f"{item}.wav")
        noise = obs.signal.astype(np.float64) - obs.reference
        excerpt = recording[offset:offset + clip.num_samples]
        assert np.corrcoef(noise, excerpt)[0, 1] > 0.99999
        assert measured_snr(obs) == pytest.approx(0.0, abs=0.01)
        excerpts.add((item, offset))
    assert len(excerpts) == 6 and {i for i, _ in excerpts} == {"fan", "street"}


def test_deterministic_for_a_seed_and_different_across_seeds(clip):
    a, b, c = (corrupt(clip, seed, noise="synthetic-noise") for seed in (1, 1, 2))
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.info == b.info
    assert not np.allclose(a.signal, c.signal)


def test_missing_corpus_propagates_without_synthetic(tmp_path):
    with pytest.raises(CorpusMissing, match="test-tiny-noise"):
        EnvironmentalNoise.resolve_params({"noise": "test-tiny-noise"}, synthetic=False, data_root=tmp_path)


def test_missing_corpus_switches_to_the_standin_under_synthetic(tmp_path, clip):
    params = EnvironmentalNoise.resolve_params({"noise": "test-tiny-noise", "noise_params": {"environment": "STRAFFIC"},
                                                "snr_min": 6}, synthetic=True, data_root=tmp_path)
    assert params == {"noise": "synthetic-noise", "noise_params": {"scene": "traffic"}, "snr_min": 6,
                      "standin_for": "test-tiny-noise"}
    obs = build_corruption("environmental-noise", params, tmp_path).apply(clip, np.random.default_rng(0))
    assert obs.info["standin_for"] == "test-tiny-noise" and obs.info["noise_dataset"] == "synthetic-noise"


def test_present_corpus_and_synthetic_corpora_keep_their_params(corpus):
    params = {"noise": "test-tiny-noise"}
    assert EnvironmentalNoise.resolve_params(params, synthetic=True, data_root=corpus) == params
    params = {"noise": "synthetic-noise", "noise_params": {"scene": "living"}}
    assert EnvironmentalNoise.resolve_params(params, synthetic=False, data_root=None) == params


def test_a_corpus_without_a_standin_falls_back_to_the_generic_noise(tmp_path):
    params = EnvironmentalNoise.resolve_params({"noise": "test-tiny-noise-no-standin"}, synthetic=True,
                                               data_root=tmp_path)
    assert params == {"noise": "synthetic-noise", "noise_params": {}, "standin_for": "test-tiny-noise-no-standin"}


@pytest.mark.skipif("demand" not in DATASETS, reason="the DEMAND loader is not registered")
@pytest.mark.parametrize("environment, scene", [("DLIVING", "living"), ("STRAFFIC", "traffic")])
def test_demand_switches_to_the_matching_synthetic_scene(tmp_path, environment, scene):
    params = EnvironmentalNoise.resolve_params({"noise_params": {"environment": environment}}, synthetic=True,
                                               data_root=tmp_path)
    assert params == {"noise": "synthetic-noise", "noise_params": {"scene": scene}, "standin_for": "demand"}


@pytest.mark.skipif("demand" not in DATASETS, reason="the DEMAND loader is not registered")
def test_demand_noise_is_read_from_its_layout(tmp_path, clip):
    folder = tmp_path / "demand" / "DLIVING"
    folder.mkdir(parents=True)
    sf.write(folder / "ch01.wav", 0.1 * np.random.default_rng(0).standard_normal(60 * SR), SR, subtype="FLOAT")
    params = EnvironmentalNoise.resolve_params({"noise_params": {"environment": "DLIVING"}}, synthetic=False,
                                               data_root=tmp_path)
    obs = build_corruption("environmental-noise", params, tmp_path).apply(clip, np.random.default_rng(0))
    assert obs.info["noise_dataset"] == "demand" and "DLIVING" in obs.info["noise_item"]
    assert measured_snr(obs) == pytest.approx(obs.info["target_snr_db"], abs=0.01)


def test_snr_range_must_be_ordered():
    with pytest.raises(ValueError, match="snr_min"):
        build_corruption("environmental-noise", {"snr_min": 9, "snr_max": 5})
