"""bench compare: a planted regression is caught (exit 1), the reverse is 'better', identical or equally
good methods raise no alarm, and the statistics hold their false-alarm rate on null data."""
import numpy as np
import pandas as pd
import pytest

from bench.analysis.compare import (
    BETTER,
    SAME,
    UNDECIDED,
    WORSE,
    Comparison,
    bootstrap_ci,
    holm,
    minimum_detectable_difference,
    parse_method,
    smallest_p,
    verdicts,
    wilcoxon_p,
)
from bench.cli import main
from bench.records.store import ResultsStore

SUITE = """
name = "cmp"
items = 10
seeds = [0]
seconds = 0.5
sample_rate = 16000
metrics = ["si_sdr", "si_sdr_i", "snr"]
[[methods]]
name = "identity"
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.05 }
"""

# gain_floor = 1 turns the Wiener filter into a pass-through: a deliberately broken denoiser.
BROKEN = "spectral-wiener[gain_floor=1.0]"


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "cmp.toml"
    path.write_text(SUITE)
    return str(path)


def _compare(suite, results, *extra):
    return main(["compare", "--suite", suite, "--results", str(results), "--backend", "sequential",
                 "--no-progress", *extra])


def test_a_planted_regression_fails_and_its_reverse_is_better(suite, tmp_path, capsys):
    results = tmp_path / "r"
    summary = tmp_path / "summary.md"
    assert _compare(suite, results, "--candidate", BROKEN, "--baseline", "spectral-wiener", "-o", str(summary)) == 1
    out = capsys.readouterr().out
    assert "Result: REGRESSION" in out
    for metric in ("si_sdr", "si_sdr_i", "snr"):
        assert any(line.startswith(f"| {metric} |") and "worse" in line for line in out.splitlines())
    assert summary.read_text().startswith("### bench compare")

    # The same cells, the other way round: cached (nothing runs) and 'better'.
    n_records = len(list(ResultsStore(results).records()))
    assert _compare(suite, results, "--candidate", "spectral-wiener", "--baseline", BROKEN) == 0
    out = capsys.readouterr()
    assert "0 to run" in out.err and len(list(ResultsStore(results).records())) == n_records
    assert out.out.count("✅ better") == 3

    # A tolerance larger than the damage turns the verdict into 'no significant difference'.
    assert _compare(suite, results, "--candidate", BROKEN, "--baseline", "spectral-wiener",
                    "--tolerance", "100") == 0
    assert "within the tolerance" in capsys.readouterr().out


def test_baseline_results_from_another_store(suite, tmp_path, capsys):
    old = tmp_path / "old"
    assert main(["run", "--suite", suite, "--results", str(old), "--backend", "sequential", "--no-progress",
                 "--no-report"]) == 0  # identity, as "the previous code" of the candidate identity
    assert _compare(suite, tmp_path / "new", "--candidate", "identity", "--baseline-results", str(old)) == 0
    out = capsys.readouterr().out
    assert out.count("no significant difference") == 3 and "| 10 |" in out


def test_identical_and_equally_good_methods_raise_no_alarm(tmp_path, capsys):
    path = tmp_path / "null.toml"
    path.write_text(SUITE.replace('"synthetic-speech"', '"test-tone"').replace("items = 10", "items = 12")
                    .replace("seeds = [0]", "seeds = [0, 1, 2]"))
    results = tmp_path / "r"
    assert _compare(str(path), results, "--candidate", "test-jitter[tag=1]", "--baseline", "test-jitter[tag=1]") == 0
    assert "| +0.000 | [+0.000, +0.000] | 1 (1) |" in capsys.readouterr().out
    # Two tags: different method seeds, so different noise; the differences are pure chance.
    assert _compare(str(path), results, "--candidate", "test-jitter[tag=1]", "--baseline", "test-jitter[tag=2]") == 0
    out = capsys.readouterr().out
    assert "| 36 |" in out and "[+0.000, +0.000]" not in out  # real, if tiny, differences were tested
    assert "**worse**" not in out and out.count("no significant difference") == 3


def test_false_alarm_rate_on_null_data_is_at_most_alpha():
    rng = np.random.default_rng(0)
    alarms = 0
    repeats = 300
    for _ in range(repeats):
        rows = []
        for metric in ("si_sdr", "snr"):
            for item in range(20):
                base = rng.normal(10, 2)
                rows.append({"metric": metric, "candidate": base + rng.normal(0, 0.3),
                             "baseline": base + rng.normal(0, 0.3)})
        frame = pd.DataFrame(rows)
        frame["difference"] = frame["candidate"] - frame["baseline"]
        alarms += any(v.verdict == WORSE for v in verdicts(frame, ["si_sdr", "snr"], tolerance=0.0))
    # With tolerance 0 the test alone decides: Holm over two metrics keeps the family-wise two-sided rate at
    # 5%; a one-sided alarm about half that. (The tolerance rule flags by size, not by p: not tested here.)
    assert alarms / repeats < 0.05


def test_statistics_pieces():
    d = np.array([-1.0, -0.8, -1.2, -0.9, -1.1, -1.05, -0.95, -0.85])
    low, high = bootstrap_ci(d)
    assert low < d.mean() < high < 0
    assert wilcoxon_p(d) == pytest.approx(2 / 2 ** 8)  # exact test: all eight of one sign
    assert wilcoxon_p(np.zeros(5)) == 1.0
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    # Lower-is-better metrics flip the verdict: a higher value is worse.
    frame = pd.DataFrame({"metric": "x", "candidate": 1 - d, "baseline": 1.0})
    frame["difference"] = frame["candidate"] - frame["baseline"]
    import bench.analysis.compare as compare
    from bench.metrics import Output

    original = compare.output_spec
    compare.output_spec = lambda name: Output("x", "", False, "")
    try:
        assert verdicts(frame, ["x"])[0].verdict == WORSE
        frame["candidate"] = 1 + d
        frame["difference"] = d
        assert verdicts(frame, ["x"])[0].verdict == BETTER
    finally:
        compare.output_spec = original
    assert verdicts(frame.assign(difference=0.0, candidate=1.0), ["si_sdr"]) == []  # no rows for si_sdr
    assert SAME == "no significant difference"


def test_method_specs():
    m = parse_method("spectral-wiener[gain_floor=1.0, n_fft=1024,window=hann]")
    assert m.name == "spectral-wiener" and m.params == {"gain_floor": 1.0, "n_fft": 1024, "window": "hann"}
    assert parse_method("identity").params == {}
    with pytest.raises(ValueError):
        parse_method("x[a]")


def test_summary_breaks_the_difference_down_by_dataset_and_corruption():
    from bench.analysis.compare import Comparison

    frame = pd.DataFrame({"suite": "s", "dataset": ["A"] * 6 + ["B"] * 6, "corruption": "noise", "metric": "snr",
                          "item": [str(i) for i in range(12)], "candidate": [1.0] * 6 + [3.0] * 6,
                          "baseline": 2.0})
    frame["difference"] = frame["candidate"] - frame["baseline"]
    result = Comparison("c", "b", "s", "paper", verdicts(frame, ["snr"]), {}, 0.05, 0.95, frame)
    text = result.markdown()
    assert "| s | A | noise | -1.000 |" in text and "| s | B | noise | +1.000 |" in text
    assert "undecided" in text and not result.regression  # +-1 dB halves: the interval allows -0.25


def _planted(difference: float, n: int, noise: float, seed: int = 0, metric: str = "si_sdr") -> pd.DataFrame:
    """n pairs whose candidate is ``difference`` dB off the baseline, plus Gaussian noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    baseline = rng.normal(10, 3, n)
    frame = pd.DataFrame({"metric": metric, "baseline": baseline,
                          "candidate": baseline + difference + rng.normal(0, noise, n)})
    frame["difference"] = frame["candidate"] - frame["baseline"]
    return frame


@pytest.mark.parametrize("size, n", [(3.0, 4), (3.0, 10), (1.0, 4), (1.0, 20), (0.5, 50), (0.5, 200)])
def test_planted_regressions_of_several_sizes_and_pair_counts_are_caught(size, n):
    (v,) = verdicts(_planted(-size, n, noise=size / 2, seed=n), ["si_sdr"])
    assert v.verdict == WORSE and v.tolerance == 0.25  # the dB unit's default
    result = Comparison("c", "b", "s", "smoke", [v], {}, 0.05, 0.95)
    assert result.regression and "Result: REGRESSION" in result.markdown()


def test_a_large_regression_on_four_pairs_is_flagged_though_the_test_cannot_reject():
    frame = _planted(-3.0, 4, noise=0.5)
    (v,) = verdicts(frame, ["si_sdr"])
    assert v.p_adjusted >= 0.125 and v.verdict == WORSE  # 2/2^4: the exact test's best on 4 pairs
    assert v.detectable == float("inf")
    text = Comparison("c", "b", "s", "smoke", [v], {}, 0.05, 0.95).markdown()
    assert "**Warning:** 4 pairs are too few" in text and "2/2^n = 0.125" in text
    assert "the test cannot confirm it" in text and "| never |" in text
    # Tolerance 0 leaves the test alone: it cannot reject on 4 pairs, so the 3 dB regression would pass.
    (alone,) = verdicts(frame, ["si_sdr"], tolerance=0.0)
    assert alone.verdict == SAME and "never reject" in " ".join(alone.notes)


def test_the_median_catches_a_regression_on_most_items_that_one_item_hides_from_the_mean():
    frame = _planted(-1.0, 9, noise=0.05)
    frame.loc[0, "candidate"] += 12.0  # one item much better: the mean is above zero, the median 1 dB worse
    frame["difference"] = frame["candidate"] - frame["baseline"]
    (v,) = verdicts(frame, ["si_sdr"])
    assert v.mean_difference > 0 and v.verdict == WORSE and "median worse" in v.notes[0]


@pytest.mark.parametrize("n", [4, 50])
def test_a_null_difference_is_no_regression(n):
    (v,) = verdicts(_planted(0.0, n, noise=0.05, seed=n), ["si_sdr"])
    assert v.verdict == SAME
    assert not Comparison("c", "b", "s", "smoke", [v], {}, 0.05, 0.95).regression


def test_noisy_null_data_on_few_pairs_is_undecided_not_a_regression():
    spread = np.array([-2.0, -0.7, 0.7, 2.0])  # mean and median exactly zero, but a wide interval
    frame = pd.DataFrame({"metric": "si_sdr", "baseline": 10.0, "candidate": 10.0 + spread, "difference": spread})
    (v,) = verdicts(frame, ["si_sdr"])
    assert v.verdict == UNDECIDED
    result = Comparison("c", "b", "s", "smoke", [v], {}, 0.05, 0.95)
    assert not result.regression and "cannot decide on si_sdr" in result.markdown()
    assert verdicts(frame, ["si_sdr"], tolerance=5.0)[0].verdict == SAME  # a tolerance past the interval


def test_minimum_detectable_difference_has_the_stated_power():
    assert smallest_p(4) == 0.125 == wilcoxon_p(-np.arange(1.0, 5.0))
    assert minimum_detectable_difference(np.ones(5), 0.05) == float("inf")  # 2/2^5 > 0.05
    rng = np.random.default_rng(1)
    n = 30
    mdd = minimum_detectable_difference(rng.normal(0, 1, n), 0.05)
    assert 0.4 < mdd < 0.7  # (1.96 + 0.84) / sqrt(30) / sqrt(3/pi) = 0.52 for sd 1
    hits = sum(wilcoxon_p(rng.normal(-mdd, 1, n)) < 0.05 for _ in range(400))
    assert 0.65 < hits / 400 < 0.92  # about the stated 80 % power
    hits_half = sum(wilcoxon_p(rng.normal(-mdd / 2, 1, n)) < 0.05 for _ in range(400))
    assert hits_half / 400 < 0.5  # half the detectable difference is mostly missed


def test_compare_end_to_end_flags_a_planted_3_db_regression_on_4_pairs(tmp_path, capsys):
    path = tmp_path / "four.toml"
    path.write_text(SUITE.replace("items = 10", "items = 4").replace('["si_sdr", "si_sdr_i", "snr"]', '["si_sdr"]'))
    # The observation carries noise of std 0.05; the same again, independent, doubles the noise power: -3 dB.
    assert _compare(str(path), tmp_path / "r", "--candidate", "test-jitter[level=0.05]", "--baseline",
                    "identity") == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| si_sdr |"))
    mean = float(row.split("|")[6])
    assert -3.5 < mean < -2.5 and "worse" in row and "4 pairs are too few" in out
    assert "Result: REGRESSION" in out


# Four outputs whose Wilcoxon p-values are exact: n differences all of one sign give 2 / 2^n.
HOLM_PAIRS = {"si_sdr": 8, "snr": 8, "si_sdr_i": 6, "pesq_wb": 5}
# Holm by hand: sorted p = 1/128, 1/128, 1/32, 1/16 times 4, 3, 2, 1 = 1/32, 3/128, 1/16, 1/16, each raised to
# the largest before it (step-down): 1/32, 1/32, 1/16, 1/16.
HOLM_BY_HAND = {"si_sdr": 1 / 32, "snr": 1 / 32, "si_sdr_i": 1 / 16, "pesq_wb": 1 / 16}


def _exact_p_frame() -> pd.DataFrame:
    rows = [{"metric": metric, "candidate": 10.0 - 0.1 * (k + 1), "baseline": 10.0}
            for metric, n in HOLM_PAIRS.items() for k in range(n)]
    frame = pd.DataFrame(rows)
    frame["difference"] = frame["candidate"] - frame["baseline"]
    return frame


def test_the_verdicts_p_values_are_holm_adjusted_exactly():
    """Not by a simulation at the edge of its bound: the adjusted p of each output against Holm's by hand."""
    out = {v.metric: v for v in verdicts(_exact_p_frame(), list(HOLM_PAIRS), tolerance=0.0)}
    assert {m: out[m].p_value for m in HOLM_PAIRS} == pytest.approx({m: 2 / 2 ** n for m, n in HOLM_PAIRS.items()})
    assert {m: out[m].p_adjusted for m in HOLM_PAIRS} == pytest.approx(HOLM_BY_HAND, rel=1e-12)
    # at alpha 0.05 only the two outputs whose adjusted p is 1/32 are significant (all four unadjusted)
    assert [m for m in HOLM_PAIRS if out[m].verdict == WORSE] == ["si_sdr", "snr"]


def test_holm_agrees_with_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = [0.01, 0.04, 0.03, 0.2, 0.0125, 0.9]
    assert holm(p) == pytest.approx(list(multitest.multipletests(p, method="holm")[1]), rel=1e-12)


def _frame(**differences) -> pd.DataFrame:
    rows = [{"metric": metric, "candidate": 10.0 + d, "baseline": 10.0} for metric, ds in differences.items() for d in ds]
    frame = pd.DataFrame(rows)
    frame["difference"] = frame["candidate"] - frame["baseline"]
    return frame


def test_the_tolerance_is_in_the_metrics_unit_on_either_side():
    """A difference inside the tolerance is no regression, one exactly at it neither (past it is), whichever
    direction is better: lsd is lower-is-better, so +0.2 dB there is as bad as -0.2 dB of SI-SDR."""
    frame = _frame(si_sdr=[-0.2] * 10, lsd=[0.2] * 10, snr=[-0.25] * 10)
    out = {v.metric: v for v in verdicts(frame, ["si_sdr", "lsd", "snr"], tolerance=0.25)}
    assert all(v.verdict == SAME and "significant but within the tolerance" in " ".join(v.notes) for v in out.values())
    assert verdicts(_frame(si_sdr=[-0.3] * 10), ["si_sdr"], tolerance=0.25)[0].verdict == WORSE


def test_a_significant_test_whose_interval_reaches_the_better_side_is_no_regression():
    """19 small losses and one large gain: the signed-rank test rejects (p ~ 1e-3), but the mean's interval
    reaches past 0 to the better side, so with a tolerance of 0 the verdict is not 'worse'."""
    (v,) = verdicts(_frame(si_sdr=[-0.1] * 19 + [1.5]), ["si_sdr"], tolerance=0.0)
    assert v.p_adjusted < 0.01 and v.ci[0] < 0 < v.ci[1] < 1
    assert v.verdict == SAME


def test_every_output_gets_its_own_verdict_interval_and_detectable_difference():
    frame = _exact_p_frame()
    out = verdicts(frame, ["sir_v3", *HOLM_PAIRS], tolerance=0.0, confidence=0.5)  # sir_v3: no pairs
    assert [v.metric for v in out] == list(HOLM_PAIRS)
    for v in out:
        d = frame.loc[frame["metric"] == v.metric, "difference"].to_numpy()
        assert v.ci == bootstrap_ci(d, 0.5)
        # the level each output's test must reach at best under Holm: alpha / outputs
        assert v.detectable == minimum_detectable_difference(d, 0.05 / len(HOLM_PAIRS))
    assert np.isfinite(out[0].detectable)  # 8 pairs can reach 0.05 / 4; 6 or 5 cannot
    (alone,) = verdicts(frame[frame["metric"] == "si_sdr_i"], ["si_sdr_i"])  # one output: the level is alpha
    assert alone.detectable == minimum_detectable_difference(
        frame.loc[frame["metric"] == "si_sdr_i", "difference"].to_numpy(), 0.05)


def test_too_few_pairs_decide_neither_better_nor_no_difference_by_size_alone():
    """Four pairs can never reach p < 0.05: a mean gain past the tolerance is not 'better' without the test,
    and losses within the tolerance whose interval reaches past it are 'undecided', not 'no difference'."""
    (gain,) = verdicts(_frame(si_sdr=[0.9, 0.5, 0.7, 0.6]), ["si_sdr"], tolerance=0.25)
    assert gain.p_adjusted >= 0.05 and gain.mean_difference > 0.25 and gain.verdict == SAME
    (loss,) = verdicts(_frame(si_sdr=[-0.05, -0.1, -0.6, -0.05]), ["si_sdr"], tolerance=0.25)
    assert loss.ci[1] < 0 and loss.ci[0] < -0.25 < loss.mean_difference and loss.verdict == UNDECIDED


def test_pairs_with_an_undefined_score_are_left_out_and_counted():
    from types import SimpleNamespace

    from bench.analysis.compare import pairs

    def store(values):
        frame = pd.DataFrame({"key": [f"k{i}" for i in range(len(values))], "suite": "s", "dataset": "d",
                              "corruption": "c", "item": [str(i) for i in range(len(values))], "seed": 0,
                              "metric": "sar_v3", "status": "ok", "which": "estimate", "value": values})
        return SimpleNamespace(table=lambda keys, labels: frame)

    cells = [SimpleNamespace(key=f"k{i}", labels={}) for i in range(4)]
    paired, counts = pairs(cells, cells, store([1.0, np.nan, 3.0, np.nan]), store([1.5, 2.0, np.nan, 4.0]))
    assert len(paired) == 1 and counts["undefined"] == {"sar_v3": 3}
    text = Comparison("c", "b", "s", "paper", verdicts(paired, ["sar_v3"]), counts, 0.05, 0.95, paired).markdown()
    assert "Left out: 3 pairs whose score is undefined on either side" in text and "sar_v3 3" in text
