"""A paper's claims as checks: what a suite's ``[[claims]]`` say, and what a results folder says about them.

A claim compares two sides on one metric output: ``a`` and ``b`` are method labels of the table (or lists of
labels paired position by position, e.g. each model size with and without a regulariser, their pairs pooled),
or ``b = "input"``: the corrupted input each of ``a``'s cells was given. Kinds:

- ``ordering``: a is better than b (in the metric's direction);
- ``effect``: a is better than the corrupted input (``b = "input"``);
- ``gap``: a is at most ``margin`` (the metric's unit) worse than b ("within about 2 dB").

Evaluation pairs the two sides per dataset, corruption, item and seed under one selection rule (bench.analysis.rules),
takes the advantage of a over b (a - b, sign-flipped for a lower-is-better metric: positive means as claimed),
its mean (the median in a median table) over the pairs and a percentile bootstrap 95 % interval
(``bench.analysis.compare.bootstrap_ci``). With the threshold t = -margin (0 for an ordering or an effect) the verdict is

- supported: the whole interval is above t;
- contradicted: the whole interval is below t;
- undecided: the interval holds t, or there are fewer than MIN_PAIRS pairs (a percentile bootstrap on a
  handful of pairs understates its interval). An undecided claim says how many pairs would decide it if the
  mean held: the interval's half-width shrinks as 1/sqrt(n), so it clears t at about
  n * (half-width / |mean - t|)^2 pairs; and whether the run fitted fewer iterations than the paper's protocol.

A claim is evaluated under every rule the table can show (final, the table's oracle rule, each blind rule),
so one that holds only with the oracle says so. The paper's difference is taken from the suite's
``references`` (a's published mean minus b's, averaged over the datasets and corruptions in scope), or, with
``paper_metric``, is a's published value of an output that is itself an improvement (e.g. ``si_sdr_i``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.planning.claim_spec import INPUT, KINDS, Claim, parse_claim  # noqa: F401 - declared there

MIN_PAIRS = 5
SUPPORTED, CONTRADICTED, UNDECIDED = "supported", "contradicted", "undecided"

@dataclass
class Finding:
    """A claim under one selection rule."""

    rule: str
    n: int
    advantage: float  # a over b in the claim's direction (mean, or median in a median table)
    ci: tuple[float, float]
    verdict: str
    needed: float | None = None  # pairs that would decide an undecided claim (inf: no effect seen)


@dataclass
class Evaluation:
    claim: Claim
    table: str
    profile: str
    statistic: str
    paper: float | None  # the paper's advantage, where its numbers give one
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # what else would decide it (iterations), no iterates...

    @property
    def summary(self) -> str:
        """One verdict over the rules: where it holds, and whether only with the oracle."""
        if not self.findings:
            return "no pairs"
        by = {f.rule: f.verdict for f in self.findings}
        held = [r for r, v in by.items() if v == SUPPORTED]
        against = [r for r, v in by.items() if v == CONTRADICTED]
        if held and all(r.startswith("oracle") for r in held) and len(held) < len(by):
            return "supported only with the oracle"
        if held and not against and len(held) == len(by):
            return SUPPORTED
        if against and not held and len(against) == len(by):
            return CONTRADICTED
        if held or against:
            return f"{SUPPORTED} under {', '.join(held) or 'none'}; {CONTRADICTED} under {', '.join(against) or 'none'}"
        return UNDECIDED

    @property
    def decided(self) -> bool:
        return any(f.verdict != UNDECIDED for f in self.findings)


def table_rules(table) -> list[str]:
    """The rules a table can show: the final iterate, its own rule and every blind rule."""
    from bench.analysis.rules import parse_rule, rule_rows

    return rule_rows(parse_rule(table.settings.get("select", "final")))


def evaluate_table(table, frame, profile: str) -> list[Evaluation]:
    """Every claim of one suite table on its long-table rows (``bench.records.store.long_table``, labelled by it)."""
    settings = table.resolved(profile)
    statistic = settings.get("aggregate", "mean")
    frame = frame[(frame["suite"] == table.name) & (frame["status"] == "ok")] if len(frame) else frame
    return [evaluate(claim, table, frame, profile, statistic) for claim in table.claims]


def evaluate(claim: Claim, table, frame, profile: str, statistic: str = "mean") -> Evaluation:
    import numpy as np

    from bench.analysis.compare import bootstrap_ci
    from bench.analysis.rules import which
    from bench.metrics import output_spec

    spec = output_spec(claim.metric)
    sign = 1.0 if spec is None or spec.higher_is_better else -1.0
    rules = claim.rules or table_rules(table)
    scope = _scope(claim, frame)
    without_iterates = _without_iterates(scope)
    sides = claim.a + ([] if claim.b == [INPUT] else claim.b)
    if sides and all(label in without_iterates for label in sides):
        rules = ["final"]  # every rule picks the final estimate: one finding, not several identical
    findings = []
    for rule in rules:
        pairs = _pairs(claim, scope, which(rule), without_iterates)
        if not len(pairs):
            continue
        d = sign * pairs.to_numpy(dtype=float)
        center = float(np.median(d) if statistic == "median" else np.mean(d))
        ci = bootstrap_ci(d, statistic=np.median if statistic == "median" else np.mean)
        findings.append(_decide(claim, rule, len(d), center, ci))
    paper = paper_advantage(claim, table, sign)
    return Evaluation(claim, table.name, profile, statistic, paper, findings,
                      _notes(claim, table, scope, profile, findings, without_iterates))


def _scope(claim: Claim, frame):
    if not len(frame):
        return frame
    keep = frame["metric"] == claim.metric
    if claim.datasets:
        keep &= frame["dataset"].isin(claim.datasets)
    if claim.corruptions:
        keep &= frame["corruption"].isin(claim.corruptions)
    return frame[keep]


def _without_iterates(frame) -> set[str]:
    """Methods (labels) whose records hold no traced iterate: every rule is their final estimate."""
    if not len(frame) or "iterates" not in frame:
        return set()
    return set(frame.groupby("method")["iterates"].any().loc[lambda s: ~s].index)


_PAIR = ["dataset", "corruption", "item", "seed"]


def _side(frame, label: str, which: str, without_iterates: set[str]):
    rows = frame[(frame["method"] == label) & (frame["which"] == which)]
    if rows.empty and label in without_iterates:
        rows = frame[(frame["method"] == label) & (frame["which"] == "estimate")]
    return rows[_PAIR + ["value"]].dropna()


def _pairs(claim: Claim, frame, which: str, without_iterates: set[str]):
    """a - b per paired item (raw units), pooled over the claim's label pairs."""
    import pandas as pd

    if not len(frame):
        return pd.Series(dtype=float)
    out = []
    for i, a in enumerate(claim.a):
        left = _side(frame, a, which, without_iterates)
        right = (frame[(frame["method"] == a) & (frame["which"] == "input")][_PAIR + ["value"]].dropna()
                 if claim.b == [INPUT] else _side(frame, claim.b[i], which, without_iterates))
        merged = left.merge(right, on=_PAIR, suffixes=("_a", "_b"))
        out.append(merged["value_a"] - merged["value_b"])
    return pd.concat(out, ignore_index=True) if out else pd.Series(dtype=float)


def _decide(claim: Claim, rule: str, n: int, center: float, ci: tuple[float, float]) -> Finding:
    low, high = ci
    t = claim.threshold
    if n >= MIN_PAIRS and low > t:
        return Finding(rule, n, center, ci, SUPPORTED)
    if n >= MIN_PAIRS and high < t:
        return Finding(rule, n, center, ci, CONTRADICTED)
    return Finding(rule, n, center, ci, UNDECIDED, pairs_needed(n, center, ci, t))


def pairs_needed(n: int, center: float, ci: tuple[float, float], threshold: float) -> float:
    """Pairs at which the interval would clear the threshold if the centre and the spread held: the
    half-width shrinks as 1/sqrt(n); never fewer than MIN_PAIRS; inf where the centre sits on the threshold."""
    distance = abs(center - threshold)
    if distance == 0:
        return math.inf
    half = (ci[1] - ci[0]) / 2
    return float(max(MIN_PAIRS, math.ceil(n * (half / distance) ** 2) if half > 0 else n + 1))


def paper_advantage(claim: Claim, table, sign: float) -> float | None:
    """The paper's own advantage of a over b from the table's references, where it gives both sides."""
    refs = table.references
    in_scope = [r for r in refs if (not claim.datasets or r.get("dataset") in claim.datasets or r.get("dataset") is None)
                and (not claim.corruptions or r.get("corruption") in claim.corruptions or r.get("corruption") is None)]

    def published(label: str, metric: str) -> dict[tuple, float]:
        return {(r.get("dataset"), r.get("corruption")): float(r["mean"]) for r in in_scope
                if r.get("method") == label and r.get("metric") == metric}

    differences = []
    for i, a in enumerate(claim.a):
        if claim.paper_metric:
            differences += list(published(a, claim.paper_metric).values())
            continue
        if claim.b == [INPUT]:
            continue
        left, right = published(a, claim.metric), published(claim.b[i], claim.metric)
        differences += [left[k] - right[k] for k in left if k in right]
    if not differences:
        return None
    value = sum(differences) / len(differences)
    return value if claim.paper_metric else sign * value


def _notes(claim, table, scope, profile: str, findings: list[Finding], without_iterates: set[str]) -> list[str]:
    notes = []
    if not findings:
        notes.append(f"no finished pairs of {claim.metric} for these methods in this folder")
    labels = set(claim.a) | (set() if claim.b == [INPUT] else set(claim.b))
    if labels & without_iterates and not labels <= without_iterates:
        notes.append(f"{', '.join(sorted(labels & without_iterates))}: no iterates (its final estimate under every rule)")
    fitted = _iterations(scope, labels - without_iterates)
    full = table.protocol.get("iterations")
    if fitted is not None and full and fitted < full:
        notes.append(f"the run fitted {fitted} of the paper protocol's {full} iterations: its verdicts speak of "
                     "that short fit, and a fit of the full length may decide otherwise")
    elif profile != "paper" and any(f.verdict == UNDECIDED for f in findings):
        notes.append(f"profile {profile}: clips and items are scaled down from the paper's protocol")
    return notes


def _iterations(frame, labels: set[str]) -> int | None:
    if not len(frame) or "iterations" not in frame:
        return None
    values = frame[frame["method"].isin(labels)]["iterations"].dropna()
    return int(values.max()) if len(values) else None


# -- rendering ------------------------------------------------------------------------------------------
EXPLANATION = ("Advantage: side A minus side B in the metric's direction (positive: as claimed), {statistic} over "
               "the paired items x seeds, with a percentile bootstrap 95 % interval; supported when the interval "
               "is wholly above the threshold (0, or minus the margin of a gap claim), contradicted when wholly "
               f"below, else undecided (also under {MIN_PAIRS} pairs), with the pairs that would decide it if the "
               "advantage held (n x (half-width / distance to the threshold)^2).")


def number_text(x: float) -> str:
    """Two decimals, or two significant digits for a small nonzero value (not a bare +0.00)."""
    return f"{x:+.2f}" if x == 0 or abs(x) >= 0.1 else f"{x:+.2g}"


def verdict_text(f: Finding) -> str:
    if f.verdict != UNDECIDED:
        return f.verdict
    if f.needed is None or math.isinf(f.needed):
        return "undecided (no advantage seen: more pairs alone will not decide it)"
    return f"undecided (about {int(f.needed)} pairs would decide it; {f.n} now)"


# -- a results folder's page ----------------------------------------------------------------------------
def evaluate_records(suite, records: list[dict], profile: str | None = None) -> list[Evaluation]:
    """Every claim of every table of ``suite`` on a folder's records alone (no corpora): each table labels
    the records that are its cells (``bench.records.from_records``), each profile the folder holds is evaluated."""
    from bench.records.from_records import cells_from_records
    from bench.records.store import long_table

    out = []
    for table in suite.tables():
        if not table.claims:
            continue
        cells = cells_from_records(table, records, profile)
        labels = {c.key: c.labels for c in cells}
        frame = long_table([r for r in records if r["key"] in labels], labels)
        profiles = sorted({c.labels["profile"] for c in cells}) or [profile or "paper"]
        for held in profiles:
            rows = frame[frame["profile"] == held] if len(frame) else frame
            out += evaluate_table(table, rows, held)
    return out


def as_json(evaluations: list[Evaluation]) -> list[dict]:
    from dataclasses import asdict

    return [{**asdict(ev), "summary": ev.summary, "decided": ev.decided} for ev in evaluations]
