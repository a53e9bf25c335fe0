"""The papers' claims as checks (bench.analysis.paper_claims) on planted records whose truth is known."""
from __future__ import annotations

import numpy as np
import pytest
from planted_records import plant, write_suite

from bench.analysis.paper_claims import CONTRADICTED, SUPPORTED, UNDECIDED, evaluate_records, pairs_needed
from bench.cli import main
from bench.planning.suite import load_suite, read_suite_file
from bench.records.store import ResultsStore

CLAIMS = """
[[claims]]
kind = "ordering"
statement = "A beats B"
a = "A"
b = "B"
metric = "snr"
source = "Table 9"

[[claims]]
kind = "ordering"
statement = "C beats B, with the oracle only"
a = "C"
b = "B"
metric = "snr"
source = "Table 9"

[[claims]]
kind = "ordering"
statement = "A's envelope distance is smaller than B's"
a = "A"
b = "B"
metric = "envelope_distance"
source = "Table 9"

[[claims]]
kind = "effect"
statement = "A improves on the noisy input"
a = "A"
b = "input"
metric = "snr"
source = "Sec. 9"

[[claims]]
kind = "gap"
statement = "B is within 3 dB of A"
a = "B"
b = "A"
metric = "snr"
margin = 3.0
source = "Sec. 9"

[[claims]]
kind = "ordering"
statement = "B beats the noisy input row by a hair"
a = "B"
b = "Noisy"
metric = "snr"
source = "Sec. 9"
"""
NOISE = np.random.default_rng(1).normal(0, 0.3, size=(4, 12))


def scores(label: str, i: int) -> dict:
    """Input SNR 5 dB. A: +3 dB final and oracle, 1 dB below B under blind:wmv; B: +1 dB (+0.05 over the
    input with a spread of 0.3 dB); C: B's scores but +2 dB at the oracle iterate. Envelope distance (lower
    is better): A 0.05, B 0.10."""
    noise = NOISE[["A", "B", "C", "Noisy"].index(label), i]
    base = 5.0 + 0.1 * i
    final = {"A": base + 3 + noise, "B": base + 0.05 + noise, "C": base + 0.05 + NOISE[1, i],
             "Noisy": base}[label]
    oracle = {"A": final, "B": final, "C": final + 2, "Noisy": final}[label]
    wmv = {"A": base + 0.05 + NOISE[1, i] - 1, "B": final, "C": final, "Noisy": final}[label]
    envelope = {"A": 0.05, "B": 0.10, "C": 0.10, "Noisy": 0.2}[label] + 0.01 * abs(noise)
    return {"input": {"snr": base, "envelope_distance": 0.2},
            "final": {"snr": final, "envelope_distance": envelope},
            "oracle:snr": {"snr": oracle, "envelope_distance": envelope},
            "blind:wmv": {"snr": wmv, "envelope_distance": envelope}}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("claims")
    path = write_suite(root, CLAIMS)
    plant(path, root / "results", scores)
    return path, root / "results"


def _by_statement(path, results):
    records = list(ResultsStore(results).records())
    return {ev.claim.statement: ev for ev in evaluate_records(read_suite_file(path), records)}


def test_verdicts_on_planted_records(planted):
    evaluations = _by_statement(*planted)
    a_b = {f.rule: f for f in evaluations["A beats B"].findings}
    assert set(a_b) == {"final", "oracle:snr", "blind:wmv"}  # rules with no record are left out
    assert a_b["final"].verdict == SUPPORTED and a_b["oracle:snr"].verdict == SUPPORTED
    assert a_b["final"].advantage == pytest.approx(2.95, abs=0.3) and a_b["final"].n == 12
    assert a_b["blind:wmv"].verdict == CONTRADICTED  # A is 1 dB below B under the blind rule
    assert "supported under final, oracle:snr" in evaluations["A beats B"].summary
    assert evaluations["C beats B, with the oracle only"].summary == "supported only with the oracle"
    # lower is better: A's smaller distance is an advantage
    assert {f.verdict for f in evaluations["A's envelope distance is smaller than B's"].findings} == {SUPPORTED}
    effect = {f.rule: f.verdict for f in evaluations["A improves on the noisy input"].findings}
    assert effect == {"final": SUPPORTED, "oracle:snr": SUPPORTED, "blind:wmv": CONTRADICTED}  # wmv: input - 0.95
    # B is about 3 dB below A: the gap of 3 dB sits inside the interval
    gap = evaluations["B is within 3 dB of A"].findings[0]
    assert gap.verdict == UNDECIDED and gap.ci[0] < -3 < gap.ci[1]


def test_an_undecided_claim_says_how_many_pairs_would_decide_it(planted):
    hair = _by_statement(*planted)["B beats the noisy input row by a hair"]
    assert "Noisy: no iterates (its final estimate under every rule)" in hair.notes
    finding = {f.rule: f for f in hair.findings}["final"]
    assert finding.verdict == UNDECIDED and finding.ci[0] < 0 < finding.ci[1]
    assert finding.needed > finding.n
    half = (finding.ci[1] - finding.ci[0]) / 2
    assert finding.needed == pytest.approx(np.ceil(12 * (half / abs(finding.advantage)) ** 2))
    assert pairs_needed(12, 0.0, (-1, 1), 0.0) == float("inf")


def test_too_few_pairs_never_decide(tmp_path):
    path = write_suite(tmp_path, CLAIMS, items=3)
    plant(path, tmp_path / "results", scores)
    findings = _by_statement(path, tmp_path / "results")["A beats B"].findings
    assert {f.verdict for f in findings} == {UNDECIDED} and all(f.needed >= 5 for f in findings)


def test_bench_claims_prints_every_claim_from_the_records_alone(planted, capsys):
    path, results = planted
    assert main(["claims", "--suite", str(path), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert out.count("| Table 9 |") == 3 and "supported only with the oracle" in out
    assert "about" in out and "pairs would decide it" in out
    assert "`cpu` profile" in out
    assert main(["report", "--suite", str(path), "--results", str(results)]) == 0
    report = capsys.readouterr().out
    assert report.index("Claims of the paper") > report.index("| Method |")
    html_folder = path.parent / "html"
    assert main(["report", "--suite", str(path), "--results", str(results), "--format", "html", "-o",
                 str(html_folder), "--examples", "0"]) == 0
    page = (html_folder / "index.html").read_text()
    assert page.index('<table class="claims">') > page.index("<table>") and "supported only with the oracle" in page


def test_bad_claims_are_one_clear_error(tmp_path):
    bad = CLAIMS.replace('b = "B"\nmetric = "snr"\nsource = "Table 9"', 'b = "Bee"\nmetric = "snr"\nsource = "Table 9"', 1)
    with pytest.raises(ValueError, match="no method labelled 'Bee'"):
        read_suite_file(write_suite(tmp_path, bad))
    with pytest.raises(ValueError, match="kind 'better'"):
        read_suite_file(write_suite(tmp_path, CLAIMS.replace('kind = "gap"', 'kind = "better"')))


@pytest.mark.parametrize("name", ["narayanaswamy2021", "waveform-prior", "mimilakis2020", "venkataramani2019-figure3"])
def test_every_paper_suite_declares_claims_with_sources(name):
    tables = [t for t in load_suite(name).tables() if t.references]
    assert tables and all(t.claims for t in tables)
    assert all(c.source for t in tables for c in t.claims)


def test_a_rule_row_table_shows_a_method_without_iterates_once(tmp_path, capsys):
    path = write_suite(tmp_path, items=3)
    path.write_text(path.read_text().replace('layout = { columns = ["dataset", "metric"] }',
                                             'layout = { rows = ["method", "rule"], columns = ["metric"] }'))
    plant(path, tmp_path / "results", scores)
    assert main(["report", "--suite", str(path), "--results", str(tmp_path / "results")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    noisy = [line for line in rows if line.startswith("| Noisy ")]
    assert len(noisy) == 1 and "| no iterates |" in noisy[0]
    a_rows = [line for line in rows if line.startswith("| A ") or line.startswith("|  | ")]
    assert any("blind:wmv" in line for line in a_rows)  # a method with iterates keeps a row per rule
