"""Two-source mixtures: the level ratio is exact, the references add up to the mixture."""
import numpy as np
import pytest

from bench.core.audio import Clip
from bench.corruptions import build_corruption
from bench.metrics import get_metric

SR = 8000


@pytest.fixture(scope="module")
def stacked():
    rng = np.random.default_rng(0)
    return Clip(np.stack([0.3 * rng.standard_normal(3 * SR), 0.05 * rng.standard_normal(3 * SR)]), SR)


def mix(clip, seed=0, **params):
    return build_corruption("mixture", params).apply(clip, np.random.default_rng(seed))


@pytest.mark.parametrize("ratio_db", [0.0, 6.0, -3.0])
def test_the_level_ratio_is_exact_and_the_mixture_is_the_sum(stacked, ratio_db):
    obs = mix(stacked, ratio_db=ratio_db)
    energy = np.sum(obs.reference.astype(np.float64) ** 2, axis=1)
    assert 10 * np.log10(energy[0] / energy[1]) == pytest.approx(ratio_db, abs=1e-4)
    np.testing.assert_allclose(obs.signal, obs.reference.sum(axis=0), atol=1e-6)
    np.testing.assert_array_equal(obs.reference[0], stacked.samples[0])  # source 1 keeps its level
    assert obs.known == {"num_sources": 2} and obs.task == "separation"
    assert obs.info["ratio_db"] == [pytest.approx(ratio_db, abs=1e-9)]


def test_the_unseparated_mixture_scores_the_level_ratio_in_bss_v4(stacked):
    # v4 SDR is the SNR per 1 s window: the mixture read as source 1 has the other source as its error.
    obs = mix(stacked, ratio_db=4.0)
    scores = get_metric("bss_v4").compute(obs.reference, obs.baseline_estimate(), SR)
    assert scores["sdr_v4_src1"] == pytest.approx(4.0, abs=0.3)
    assert scores["sdr_v4_src2"] == pytest.approx(-4.0, abs=0.3)


def test_mixtures_do_not_depend_on_the_seed(stacked):
    np.testing.assert_array_equal(mix(stacked, 1).signal, mix(stacked, 2).signal)


def test_a_single_signal_or_a_silent_source_is_refused(stacked):
    with pytest.raises(ValueError, match="stacked sources"):
        mix(Clip(stacked.samples[0], SR))
    with pytest.raises(ValueError, match="silent"):
        mix(Clip(np.stack([stacked.samples[0], np.zeros(3 * SR)]), SR))
