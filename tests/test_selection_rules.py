"""Selection rules (bench.analysis.rules) and blind stopping rules (bench.analysis.stopping): what each picks, and that the
blind rules cannot read the clean signal; the worker's record of every rule's pick; reports under any rule."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench.analysis.rules import check_form, oracle_iteration, parse_rule, picks, stated_noise_std
from bench.analysis.stopping import (
    BLIND_RULES,
    START_FRACTION,
    WMV_PATIENCE,
    BlindTrace,
    NotApplicable,
    discrepancy,
    plateau,
    residual,
    window_variance,
    wmv,
)
from bench.cli import main
from bench.planning.cells import expand
from bench.planning.suite import load_suite, parse_suite
from bench.records.store import ResultsStore
from bench.running.worker import _oracle, run_cell


def _trace(*scores: dict, stats: list[dict] | None = None) -> list[dict]:
    return [{"iteration": 10 * (i + 1), "scores": s, "stats": (stats or [{}] * len(scores))[i]}
            for i, s in enumerate(scores)]


# -- oracle rules ---------------------------------------------------------------------------------------
def test_oracle_by_one_output_keeps_every_metric_of_that_iterate():
    trace = _trace({"snr": 8.0, "pesq_wb": 1.9}, {"snr": 7.0, "pesq_wb": 2.3})
    at = oracle_iteration(trace, "snr")
    assert at == 10 and trace[0]["scores"] == {"snr": 8.0, "pesq_wb": 1.9}  # oracle:snr -> (8.0, 1.9)
    assert _oracle(trace) == {"snr": 8.0, "pesq_wb": 2.3}  # oracle:each -> (8.0, 2.3)
    assert oracle_iteration(trace, "pesq_wb") == 20


@pytest.mark.parametrize("output", ["envelope_distance", "lsd"])
def test_oracle_of_a_lower_is_better_output_takes_the_minimum(output):
    trace = _trace({output: 3.0}, {output: 1.0}, {output: 2.0})
    assert oracle_iteration(trace, output) == 20
    assert _oracle(trace)[output] == 1.0


def test_an_undefined_score_never_wins():
    trace = _trace({"si_sdr": None, "snr": None}, {"si_sdr": -20.0, "snr": float("nan")}, {"si_sdr": -30.0})
    assert oracle_iteration(trace, "si_sdr") == 20  # -20 beats -30; None is not 0 nor +inf
    assert oracle_iteration(trace, "snr") is None  # nothing defined: no pick
    assert picks(trace, ["snr"], None)["oracle:snr"] == (None, "no defined snr in the trace")
    assert picks(trace, ["si_sdr"], None)["oracle:si_sdr"] == (20, None)  # a pick has no reason


def test_rule_names_are_validated_with_close_matches():
    assert parse_rule("oracle") == "oracle:each"  # deprecated alias
    assert parse_rule("oracle:snr") == "oracle:snr" and parse_rule("blind:wmv") == "blind:wmv"
    with pytest.raises(ValueError, match="blind:wmv"):
        parse_rule("blind:wmw")
    with pytest.raises(ValueError, match="oracle:snr"):
        parse_rule("oracle:snrr")
    with pytest.raises(ValueError, match="not an output of the suite's metrics"):
        parse_rule("oracle:pesq_wb", outputs=["snr", "si_sdr"])


def test_a_suite_with_an_unknown_rule_fails_at_load_naming_the_file():
    base = {"name": "x", "methods": [{"name": "identity"}], "datasets": [{"name": "synthetic-speech"}],
            "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}], "metrics": ["snr"]}
    assert parse_suite({**base, "select": "oracle:snr"}).settings["select"] == "oracle:snr"
    with pytest.raises(ValueError, match=r"x\.toml: select: unknown selection rule 'blind:platau'.*blind:plateau"):
        parse_suite({**base, "select": "blind:platau"}, path="x.toml")
    # an oracle by an output the suite does not score: found where the cells are expanded (reading a suite
    # imports no metric), before any cell runs
    suite = parse_suite({**base, "select": "oracle:si_sdr"}, path="x.toml")
    with pytest.raises(ValueError, match=r"x\.toml: select: 'oracle:si_sdr' .*not an output.*snr"):
        expand(suite, "smoke", synthetic=True)


def test_the_paper_suites_declare_their_rules():
    assert load_suite("narayanaswamy2021-table1").settings["select"] == "oracle:snr"
    assert load_suite("narayanaswamy2021-table3").settings["select"] == "oracle:snr"
    assert load_suite("waveform-prior-table1").settings["select"] == "oracle:each"
    assert load_suite("smoke").settings["select"] == "final"


# -- blind stopping rules on curves whose answer is known -----------------------------------------------------
def _u_shaped_fit(steps=60, turn=20, seed=0):
    """Iterates that approach the clean signal ever more slowly, then fit the noise ever faster after ``turn``
    (the deep-prior picture): the error and the iterates' movement are both U-shaped."""
    rng = np.random.default_rng(seed)
    clean = np.sin(np.linspace(0, 40, 2000))
    noise = 0.3 * rng.standard_normal(2000)
    iterates = []
    for t in range(1, steps + 1):
        signal_part = 1 - np.exp(-t / 4)
        noise_part = max(0.0, (t - turn) / (steps - turn)) ** 2
        iterates.append(signal_part * clean + noise_part * noise)
    return clean, clean + noise, iterates


def test_wmv_stops_near_the_bottom_of_a_u_shaped_error():
    clean, _, iterates = _u_shaped_fit()
    window = 5
    wmv_values = [window_variance(iterates[k:k + window]) if k + window <= len(iterates) else None
                  for k in range(len(iterates))]
    trace = BlindTrace(list(range(1, len(iterates) + 1)), [None] * len(iterates), [None] * len(iterates), wmv_values)
    errors = [np.mean((x - clean) ** 2) for x in iterates]
    best = int(np.argmin(errors)) + 1
    picked = wmv(trace)
    assert abs(picked - best) <= window  # the variance is smallest where the iterates stop moving fast
    assert picked != trace.iterations[-1]


def test_wmv_waits_for_its_patience_and_otherwise_runs_to_the_end():
    values = [5.0, 4.0, 3.0] + [3.5] * (WMV_PATIENCE - 1)
    trace = BlindTrace(list(range(len(values))), [None] * len(values), [None] * len(values), values)
    assert wmv(trace) == len(values) - 1  # patience not yet reached: the last iterate
    values.append(3.5)
    trace = BlindTrace(list(range(len(values))), [None] * len(values), [None] * len(values), values)
    assert wmv(trace) == 2


def test_plateau_stops_at_the_third_flat_point_in_a_row():
    """A loss that halves at every traced point up to index 10, then stays flat. Over a window of 5 points the
    gain is 50 % or more up to index 14 and 0 from index 15 on: the flat points are 15, 16, 17, so with a
    patience of 3 the rule fires at index 17, the trace point of its third flat gain (not 16, not 18)."""
    its = [7 + 100 * k for k in range(30)]  # iterations unlike indices, so an index returned by mistake shows
    loss = [2.0 ** -min(k, 10) for k in range(30)]
    trace = BlindTrace(its, loss, [None] * 30, [None] * 30)
    assert plateau(trace) == its[17] != its[-1]
    # flat at 15 and 16, then one more halving at 17 (the gain is 50 % again for 17..21): the count starts
    # over, flat at 22, 23, 24
    broken = loss[:17] + [loss[16] * 0.5] * 13
    assert plateau(BlindTrace(its, broken, [None] * 30, [None] * 30)) == its[24]
    # a missing loss at 16 starts the count over too: flat at 17, 18, 19
    gap = loss[:16] + [None] + loss[17:]
    assert plateau(BlindTrace(its, gap, [None] * 30, [None] * 30)) == its[19]


def test_plateau_stops_where_the_loss_stops_improving():
    its = list(range(0, 700, 10))
    loss = [1.0 * np.exp(-i / 50) + 0.1 for i in its]  # improvement falls below 1% over 5 points late
    trace = BlindTrace(its, loss, [None] * len(its), [None] * len(its))
    picked = plateau(trace)
    assert picked != its[-1]  # the rule fires on this curve (on a shorter one it would only run to the end)
    k = its.index(picked)
    gains = [(loss[j - 5] - loss[j]) / loss[j - 5] for j in range(5, len(its))]
    assert all(g < 0.01 for g in gains[k - 5 - 2:k - 5 + 1])  # three flat gains in a row end at the pick
    assert not any(all(g < 0.01 for g in gains[j - 2:j + 1]) for j in range(2, k - 5))  # and none before
    steep = BlindTrace(its, [1.0 / (1 + i) for i in its], [None] * len(its), [None] * len(its))
    assert plateau(steep) == its[-1]  # always improving more than 1%: runs to the end


def test_a_suites_rule_form_is_checked_without_the_metrics_and_a_typo_gets_a_suggestion():
    """check_form: the alias "oracle" is oracle:each; blind rules by name only under "blind:"; a near miss is
    refused with the closest rule named (parse_rule alike)."""
    assert check_form(" oracle ") == "oracle:each"
    assert check_form("blind:wmv") == "blind:wmv" and check_form("oracle:whatever") == "oracle:whatever"
    for wrong in ("best:wmv", "blind:nothing", "oracle:"):
        with pytest.raises(ValueError, match="unknown selection rule"):
            check_form(wrong, where="suite x")
    with pytest.raises(ValueError, match="Did you mean: blind:wmv"):
        check_form("blind:wvm")
    with pytest.raises(ValueError, match="Did you mean: blind:plateau"):
        parse_rule("blind:plateu")


def test_the_oracle_takes_the_earliest_of_tied_iterates():
    trace = [{"iteration": i, "scores": {"snr": v}} for i, v in ((10, 1.0), (20, 3.0), (30, 3.0), (40, 2.0))]
    assert oracle_iteration(trace, "snr") == 20


def test_plateau_counts_from_zero_and_an_exact_fit_is_flat():
    """A loss flat from its first point fires after window + patience - 1 points (the flat count starts at 0,
    not 1); a loss that reaches exactly 0 (an exact fit) counts as flat, with no division by its 0."""
    its = [3 + 10 * k for k in range(20)]
    assert plateau(BlindTrace(its, [0.5] * 20, [None] * 20, [None] * 20)) == its[5 + 3 - 1]
    exact = [1.0, 0.5, 0.25] + [0.0] * 17  # the gain over 5 points is 100 % until index 7, then 0 / 0: flat
    assert plateau(BlindTrace(its, exact, [None] * 20, [None] * 20)) == its[10]


def test_a_fit_whose_residual_never_explains_enough_of_the_observation_has_not_started():
    """No residual below (1 - START_FRACTION) of the observation's power: the rules never start (they
    fall back to the last iterate); no residual recorded at all: the trace cannot tell, so from 0."""
    its = [10, 20, 30, 40]
    never = BlindTrace(its, [1.0] * 4, [0.99] * 4, [None] * 4, observation_power=1.0)
    assert never.started() == 4
    unknown = BlindTrace(its, [1.0] * 4, [None] * 4, [None] * 4, observation_power=1.0)
    assert unknown.started() == 0
    assert BlindTrace(its, [1.0] * 4, [0.99, 0.95, 0.5, 0.4], [None] * 4, observation_power=1.0).started() == 2


def test_wmv_and_plateau_wait_until_the_fit_has_started():
    """A prior whose output starts near silence barely moves and barely lowers its loss at first: low variance,
    a flat loss. Until an iterate explains START_FRACTION of the observation's energy, neither rule may stop."""
    _, observation, fit = _u_shaped_fit()
    power = float(np.mean(observation ** 2))
    # 10 near-silent iterates (output ~1e-3 of the observation), then the U-shaped fit above
    silent = [1e-3 * k / 10 * observation for k in range(10)]
    iterates = silent + fit
    window = 5
    wmv_values = [window_variance(iterates[k:k + window]) if k + window <= len(iterates) else None
                  for k in range(len(iterates))]
    residuals = [residual(x, observation) for x in iterates]
    its = list(range(len(iterates)))
    loss = [1.0] * 10 + [0.5 * np.exp(-k / 5) + 0.1 for k in range(len(fit))]  # flat while silent
    blind = BlindTrace(its, loss, residuals, wmv_values, observation_power=power)
    unguarded = BlindTrace(its, loss, residuals, wmv_values)  # as records without the observation's power
    assert wmv(unguarded) < 10 and plateau(unguarded) < 10 + 5  # both stop in the silent start
    start = next(k for k, r in enumerate(residuals) if r <= (1 - START_FRACTION) * power)
    assert start >= 10
    assert wmv(blind) >= start and plateau(blind) >= start + 5


def test_discrepancy_stops_at_the_first_residual_below_the_noise_power():
    clean, observed, iterates = _u_shaped_fit()
    residuals = [residual(x, observed) for x in iterates]
    trace = BlindTrace(list(range(1, len(iterates) + 1)), [None] * len(iterates), residuals, [None] * len(iterates),
                       noise_std=0.3)
    picked = discrepancy(trace)
    noise_power = np.mean((observed - clean) ** 2)
    assert residuals[picked - 1] <= 0.09 and residuals[picked - 2] > 0.09
    assert abs(residuals[picked - 1] - noise_power) < 0.02  # close to where the noise starts being fitted
    with pytest.raises(NotApplicable):
        discrepancy(BlindTrace(trace.iterations, trace.loss, trace.residual, trace.wmv, noise_std=None))


def test_residual_counts_only_observed_samples_and_sums_sources():
    y = np.array([1.0, 1.0, 0.0, 0.0])
    x = np.array([1.0, 0.0, 5.0, 5.0])
    assert residual(x, y) == pytest.approx(51 / 4)
    assert residual(x, y, mask=np.array([1, 1, 0, 0])) == pytest.approx(0.5)
    assert residual(np.stack([x / 2, x / 2]), y) == pytest.approx(51 / 4)
    # a multichannel observation: the mask is over time, for every channel
    assert residual(np.stack([x, x]), np.stack([y, y]), mask=np.array([1, 1, 0, 0])) == pytest.approx(0.5)
    assert residual(x, y, mask=np.zeros(4)) is None  # nothing observed: no residual (not NaN)


def test_a_recorded_trace_gives_the_rules_the_observations_power():
    """The start guard of wmv and plateau needs the observation's power, which the worker stores in the trace
    points' stats: read from a recorded trace, the rules wait as on a BlindTrace built by hand."""
    stats = [{"loss": 1.0, "residual": 1.0, "wmv": 0.1, "observation_power": 1.0}] * 12 + \
        [{"loss": 0.5, "residual": 0.5, "wmv": 0.1 + k, "observation_power": 1.0} for k in range(12)]
    trace = _trace(*[{}] * len(stats), stats=stats)
    blind = BlindTrace.from_trace(trace)
    assert blind.observation_power == 1.0 and blind.started() == 12
    assert (blind.loss, blind.residual, blind.wmv) == tuple([s[k] for s in stats] for k in ("loss", "residual", "wmv"))
    assert blind.iterations == [p["iteration"] for p in trace] and blind.heldout_loss is None
    held = [{**s, "heldout_loss": None if k == 0 else 1.0 / k} for k, s in enumerate(stats)]
    assert BlindTrace.from_trace(_trace(*[{}] * len(held), stats=held), 0.3).heldout_loss == \
        [s["heldout_loss"] for s in held]  # kept with its gaps, when any point has one
    assert wmv(blind) == trace[12]["iteration"]  # the first started window, the smallest variance after it
    older = [{**p, "stats": {k: v for k, v in p["stats"].items() if k != "observation_power"}} for p in trace]
    assert wmv(BlindTrace.from_trace(older)) == trace[0]["iteration"]  # records without it: no guard


def test_each_rule_reads_its_column_of_the_long_table():
    """The store's long table names the final scores "estimate" and the per-metric oracle "oracle"
    (bench.records.store); a selected rule's scores are under the rule's own name."""
    from bench.analysis.rules import which

    assert (which("final"), which("oracle:each"), which("oracle:snr"), which("blind:wmv")) == \
        ("estimate", "oracle", "oracle:snr", "blind:wmv")


def test_blind_rules_read_no_score():
    """Changing every score of a trace changes no blind pick; the rules' input has no score key."""
    rng = np.random.default_rng(1)
    stats = [{"loss": float(l), "residual": float(r), "wmv": float(w)}
             for l, r, w in zip(np.linspace(1, 0.1, 30), np.linspace(0.5, 0.005, 30), rng.random(30))]
    trace = _trace(*[{"snr": float(v)} for v in rng.normal(size=30)], stats=stats)
    shuffled = _trace(*[{"snr": float(v)} for v in rng.normal(size=30)], stats=stats)
    first, second = picks(trace, [], 0.1), picks(shuffled, [], 0.1)
    assert first == second and set(first) == {f"blind:{name}" for name in BLIND_RULES}
    blind = BlindTrace.from_trace(trace, 0.1)
    assert not set(vars(blind)) & {"scores", "snr"}


def test_the_stated_noise_level_is_gaussian_noise_std_only():
    assert stated_noise_std({"corruption": {"name": "gaussian-noise", "params": {"std": 0.1}}}) == 0.1
    assert stated_noise_std({"corruption": {"name": "gaussian-noise", "params": {"snr": 5.0}}}) is None
    assert stated_noise_std({"corruption": {"name": "waveform-gap", "params": {"ms": 5.0}}}) is None
    assert stated_noise_std({"corruption": {"name": "gaussian-noise",
                                            "params": {"std": 0.1, "level_dbfs": -25}}}) is None


# -- the worker's record and the report -------------------------------------------------------------------------
SUITE = """
name = "rules"
items = 2
seconds = 0.25
metrics = ["snr", "si_sdr", "envelope_distance"]
select = "oracle:snr"
[protocol]
iterations = 30
trace_every = 2
[[methods]]
name = "test-iterative"
[[methods]]
name = "identity"
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


def test_the_record_keeps_each_rules_pick_with_every_metric_there(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(SUITE)
    cells = expand(load_suite(str(path)))
    record = run_cell(next(c for c in cells if c.method["name"] == "test-iterative"))
    trace = {p["iteration"]: p for p in record["trace"]}
    selected = record["selected"]
    assert set(selected) >= {"oracle:snr", "oracle:envelope_distance", *(f"blind:{n}" for n in BLIND_RULES)}
    pick = selected["oracle:snr"]
    assert pick["scores"]["snr"] == max(p["scores"]["snr"] for p in record["trace"])
    for name in ("snr", "si_sdr", "envelope_distance"):  # every metric of that same iterate
        assert pick["scores"][name] == pytest.approx(trace[pick["iteration"]]["scores"][name])
    ed = selected["oracle:envelope_distance"]
    assert ed["scores"]["envelope_distance"] == min(p["scores"]["envelope_distance"] for p in record["trace"])
    # a stated gaussian std: every rule applies but self-validation, which needs held-out samples
    assert all(selected[f"blind:{n}"]["iteration"] in trace for n in BLIND_RULES if n != "holdout")
    assert selected["blind:holdout"]["iteration"] is None and "not applicable" in selected["blind:holdout"]["reason"]
    assert all(set(p["stats"]) == {"loss", "residual", "wmv", "observation_power"} for p in record["trace"])
    residuals = [p["stats"]["residual"] for p in record["trace"]]
    assert residuals == sorted(residuals)  # the iterate shrinks away from the observation

    identity = run_cell(next(c for c in cells if c.method["name"] == "identity"))
    assert identity["selected"]["blind:wmv"] == {"iteration": None, "scores": identity["scores"]}


def test_a_method_that_traces_nothing_has_its_estimate_under_an_oracle_by_a_slow_metric(tmp_path):
    """PESQ is not scored on traced iterates, yet a table chosen by it (oracle:pesq_wb) must still show the
    rows of methods that trace nothing (the corrupted input, the classical baselines)."""
    path = tmp_path / "rules.toml"
    path.write_text(SUITE.replace('"envelope_distance"]', '"envelope_distance", "pesq_wb"]'))
    cells = expand(load_suite(str(path)))
    identity = run_cell(next(c for c in cells if c.method["name"] == "identity"))
    assert identity["selected"]["oracle:pesq_wb"] == {"iteration": None, "scores": identity["scores"]}


def test_report_shows_a_table_under_any_rule_and_says_which(tmp_path, capsys):
    path = tmp_path / "rules.toml"
    path.write_text(SUITE)
    results = tmp_path / "r"
    assert main(["run", "--suite", str(path), "--results", str(results), "--no-progress", "--no-report",
                 "--backend", "sequential"]) == 0
    capsys.readouterr()
    assert main(["report", "--suite", str(path), "--results", str(results)]) == 0
    assert "best snr against the clean signal (oracle:snr)" in capsys.readouterr().out
    assert main(["report", "--suite", str(path), "--results", str(results), "--select", "blind:plateau"]) == 0
    out = capsys.readouterr().out
    assert "blind stopping rule 'plateau' picks (blind:plateau)" in out and "MISSING" not in out
    with pytest.raises(SystemExit) as exc:
        main(["report", "--suite", str(path), "--results", str(results), "--select", "blind:platau"])
    assert exc.value.code == 2 and "blind:plateau" in capsys.readouterr().err

    # a record written before the rules existed: the report says the rule is missing for it
    store = ResultsStore(results)
    record = next(store.records())
    del record["selected"]
    file = next(p for p in results.rglob(f"{record['key']}.json"))
    file.write_text(json.dumps(record))
    assert main(["report", "--suite", str(path), "--results", str(results), "--select", "oracle:snr"]) == 0
    assert "RULE oracle:snr MISSING for 1 of 4 finished cells" in capsys.readouterr().out

    # rows per rule: each blind rule's entry says its loss against the oracle and its gain over the final
    by_rule = tmp_path / "by_rule.toml"
    by_rule.write_text(SUITE.replace('select = "oracle:snr"',
                                     'select = "oracle:snr"\nlayout = { rows = ["method", "rule"], columns = ["metric"] }'))
    assert main(["report", "--suite", str(by_rule), "--results", str(results), "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    table = table["tables"][0]
    values = {(tuple(c["row"]), tuple(c["column"])): c["value"] for c in table["cells"]}
    oracle = values[(("test-iterative", "oracle:snr"), ("snr",))]
    final = values[(("test-iterative", "final"), ("snr",))]
    plateau_value = values[(("test-iterative", "blind:plateau"), ("snr",))]
    assert main(["report", "--suite", str(by_rule), "--results", str(results)]) == 0
    md = capsys.readouterr().out
    assert f"[loss to oracle {oracle - plateau_value:+.2f}, gain over final {plateau_value - final:+.2f}]" in md


def test_a_deep_priors_loss_reaches_the_trace():
    """The fitting engine reports each traced iterate's own loss (its objective on that iterate)."""
    from bench.components.method import RunContext, build_method
    from bench.core.audio import Observation

    method = build_method("waveform-demucs", {})
    signal = np.random.default_rng(0).standard_normal(2048).astype(np.float32) * 0.1
    stats, traced = {}, []
    context = RunContext(protocol={**method.protocol_defaults, "iterations": 3, "trace_every": 1},
                         trace_callback=lambda i, s: traced.append((i, s)), fit_stats_callback=stats.__setitem__)
    estimate = method.restore(Observation(signal, 16000, "denoising"), context)
    assert all(set(s) == {"loss"} for s in stats.values())  # nothing held out: no held-out loss
    losses = {i: s["loss"] for i, s in stats.items()}
    assert sorted(losses) == [i for i, _ in traced] == [1, 2, 3]
    # the last traced iterate is the estimate, and its loss the method's own final loss (L1 to the observation)
    assert losses[3] == pytest.approx(estimate.info["final_loss"], rel=1e-5)
    assert len(set(losses.values())) == 3
