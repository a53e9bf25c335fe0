"""Regression testing of a method against a baseline: paired per-item differences on a suite's cells.

The candidate and the baseline are each put in place of the suite's methods and expanded to cells
(``bench.planning.cells.expand``), so both run on exactly the suite's datasets, corruptions, items and seeds, through
the normal scheduler and store (cached cells are reused). For every metric output the per-item differences
(candidate - baseline) get their mean and median, a percentile bootstrap confidence interval of the mean and
a two-sided Wilcoxon signed-rank test. The p-values are Holm-adjusted across the metric outputs, because one
CI verdict looks at all of them at once.

A test alone cannot guard against a large regression: with n pairs the smallest two-sided exact Wilcoxon p
is 2 / 2^n, so 4 pairs can never reach p < 0.05 however bad the candidate is. So the tolerance (in the
metric's unit; by default DEFAULT_TOLERANCE of the unit) is also an effect-size rule. A verdict is

- worse: the mean or the median difference is past the tolerance on the metric's worse side, whatever the
  p-value (a note says when the test could not confirm it); with a tolerance of 0 only the test decides:
  adjusted p < alpha and the interval wholly on the worse side;
- better: adjusted p < alpha, the interval wholly on the better side and the mean past the tolerance;
- undecided: neither, but the interval reaches past the tolerance on the worse side: the data cannot rule
  out a regression larger than the tolerance (more items or seeds would decide);
- no significant difference: otherwise (including significant differences within the tolerance).

Each verdict carries the minimum detectable difference of its pairs (``minimum_detectable_difference``).
"""
from __future__ import annotations

import copy
import sys
import tomllib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bench.components.dataset import CorpusMissing
from bench.metrics import get_metric, output_spec
from bench.planning.cells import Cell, expand
from bench.planning.suite import Component, Suite
from bench.records.from_records import cells_from_records
from bench.records.store import ResultsStore

PAIR_KEYS = ["suite", "dataset", "corruption", "item", "seed", "metric"]
WORSE, BETTER, SAME, UNDECIDED = "worse", "better", "no significant difference", "undecided"
# The effect-size rule's default tolerance by unit: differences smaller than these are noise in practice.
DEFAULT_TOLERANCE = {"dB": 0.25, "MOS-LQO": 0.05}
POWER = 0.8  # the power at which the minimum detectable difference is stated


def parse_method(text: str) -> Component:
    """``name`` or ``name[key=value,key=value]``; values are TOML (numbers, booleans, quoted strings), and a
    bare word is taken as a string."""
    text = text.strip()
    if "[" not in text:
        return Component(text, {}, text)
    if not text.endswith("]"):
        raise ValueError(f"method spec {text!r}: expected name[key=value,...]")
    name, body = text[:-1].split("[", 1)
    params = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        if "=" not in part:
            raise ValueError(f"method spec {text!r}: parameter {part!r} is not key=value")
        key, value = (s.strip() for s in part.split("=", 1))
        try:
            params[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = value
    return Component(name.strip(), params, text)


def cells_for(suite: Suite, method: Component, profile: str = "paper", *, synthetic: bool = False,
              data_root=None, records: list[dict] | None = None) -> list[Cell]:
    """The cells of every table of a suite with its methods replaced by this one method. Where a table's
    corpus is missing and a results folder's ``records`` are given, its cells are the matching records."""
    cells: dict[str, Cell] = {}
    for table in suite.tables():
        replaced = copy.copy(table)
        replaced.methods, replaced.includes = [method], []
        try:
            table_cells = expand(replaced, profile, synthetic=synthetic, data_root=data_root)
        except CorpusMissing as exc:
            if records is None:
                raise
            table_cells = cells_from_records(replaced, records, profile)
            print(f"bench: {str(exc).splitlines()[0]}; {method.label}: the {len(table_cells)} records of table "
                  f"{table.name} alone", file=sys.stderr)
        for cell in table_cells:
            cells.setdefault(cell.key, cell)
    if not cells:
        raise ValueError(f"method {method.name} gives no cells on suite {suite.name}: "
                         "does it support the suite's tasks?")
    return list(cells.values())


def outputs_of(suite: Suite) -> list[str]:
    return list(dict.fromkeys(o for table in suite.tables() for name in table.metrics
                              for o in get_metric(name).output_names))


def pairs(candidate: list[Cell], baseline: list[Cell], candidate_store: ResultsStore,
          baseline_store: ResultsStore) -> tuple[pd.DataFrame, dict]:
    """Per item, seed and metric output: the candidate's and the baseline's final scores side by side, and
    counts of cells that failed or are missing on either side, and per metric output the pairs left out
    because a score is undefined on either side (``counts["undefined"]``)."""
    frames = []
    for cells, store in ((candidate, candidate_store), (baseline, baseline_store)):
        frame = store.table([c.key for c in cells], {c.key: c.labels for c in cells})
        frames.append(frame)
    counts = {}
    for side, cells, frame in (("candidate", candidate, frames[0]), ("baseline", baseline, frames[1])):
        done = frame.drop_duplicates("key")
        counts[f"{side}_failed"] = int((done["status"] != "ok").sum())
        counts[f"{side}_missing"] = len(cells) - len(done)
    ok = [f[(f["status"] == "ok") & (f["which"] == "estimate")][PAIR_KEYS + ["value"]] for f in frames]
    merged = ok[0].merge(ok[1], on=PAIR_KEYS, suffixes=("_candidate", "_baseline"))
    merged = merged.rename(columns={"value_candidate": "candidate", "value_baseline": "baseline"})
    undefined = merged[merged[["candidate", "baseline"]].isna().any(axis=1)]
    counts["undefined"] = {str(m): int(n) for m, n in undefined["metric"].value_counts(sort=False).items()}
    merged = merged.dropna(subset=["candidate", "baseline"])
    merged["difference"] = merged["candidate"] - merged["baseline"]
    return merged, counts


@dataclass
class Verdict:
    metric: str
    higher_is_better: bool
    n: int
    candidate_mean: float
    baseline_mean: float
    mean_difference: float
    ci: tuple[float, float]
    p_value: float
    p_adjusted: float = float("nan")
    tolerance: float = 0.0
    verdict: str = SAME
    notes: list[str] = field(default_factory=list)
    median_difference: float = float("nan")
    detectable: float = float("nan")  # minimum detectable difference (inf: the test can never reject)


def bootstrap_ci(differences: np.ndarray, confidence: float = 0.95, resamples: int = 2000,
                 seed: int = 0, statistic=np.mean) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean difference (or of ``statistic``, e.g. np.median; a fixed seed:
    the same data, the same answer)."""
    if len(differences) < 2 or np.all(differences == differences[0]):
        value = float(differences[0]) if len(differences) else float("nan")
        return value, value
    result = stats.bootstrap((differences,), statistic, confidence_level=confidence, n_resamples=resamples,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value; 1 when every difference is zero (nothing to test)."""
    if len(differences) == 0 or not np.any(differences):
        return 1.0
    return float(stats.wilcoxon(differences, zero_method="wilcox").pvalue)


def smallest_p(n: int) -> float:
    """The smallest two-sided p-value an exact Wilcoxon signed-rank test can give on n pairs: all n of one sign."""
    return min(1.0, 2.0 / 2.0**n)


def minimum_detectable_difference(differences: np.ndarray, alpha: float, power: float = POWER) -> float:
    """The smallest true mean difference the Wilcoxon test on these pairs would detect with this power.

    Normal approximation of a paired test, (z_{1-alpha/2} + z_power) * sd / sqrt(n), divided by the square root
    of the Wilcoxon test's efficiency relative to the t test on normal data (3 / pi), with sd the sample
    standard deviation of the differences. Infinite when the exact test can never reach alpha on n pairs.
    """
    n = len(differences)
    if n == 0 or smallest_p(n) >= alpha:
        return float("inf")
    sd = float(np.std(differences, ddof=1)) if n > 1 else 0.0
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * sd / np.sqrt(n) / np.sqrt(3 / np.pi))


def default_tolerance(metric: str) -> float:
    spec = output_spec(metric)
    return DEFAULT_TOLERANCE.get(spec.unit, 0.0) if spec else 0.0


def holm(p_values: list[float]) -> list[float]:
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def verdicts(paired: pd.DataFrame, metrics: list[str], *, alpha: float = 0.05,
             tolerance: dict[str, float] | float | None = None, confidence: float = 0.95) -> list[Verdict]:
    """One verdict per metric output. ``tolerance``: a number for every output, or {output or "*": number};
    an output without one gets its unit's DEFAULT_TOLERANCE."""
    out = []
    for metric in metrics:
        rows = paired[paired["metric"] == metric]
        if rows.empty:
            continue
        spec = output_spec(metric)
        d = rows["difference"].to_numpy(dtype=float)
        tol = _tolerance_of(metric, tolerance)
        out.append(Verdict(metric, spec.higher_is_better if spec else True, len(d), float(rows["candidate"].mean()),
                           float(rows["baseline"].mean()), float(d.mean()), bootstrap_ci(d, confidence),
                           wilcoxon_p(d), tolerance=float(tol), median_difference=float(np.median(d))))
    # Holm multiplies the smallest p by the number of outputs: the level each test must reach at best.
    level = alpha / max(len(out), 1)
    for v, p in zip(out, holm([v.p_value for v in out])):
        v.p_adjusted = p
        v.detectable = minimum_detectable_difference(
            paired.loc[paired["metric"] == v.metric, "difference"].to_numpy(dtype=float), level)
        _decide(v, alpha)
    return out


def _tolerance_of(metric: str, tolerance) -> float:
    if isinstance(tolerance, dict):
        return tolerance.get(metric, tolerance.get("*", default_tolerance(metric)))
    return default_tolerance(metric) if tolerance is None else tolerance


def _decide(v: Verdict, alpha: float) -> None:
    sign = 1 if v.higher_is_better else -1  # > 0: the candidate is better
    gain, median_gain = sign * v.mean_difference, sign * v.median_difference
    low, high = sorted((sign * v.ci[0], sign * v.ci[1]))
    significant = v.p_adjusted < alpha
    if v.tolerance > 0 and min(gain, median_gain) < -v.tolerance:
        v.verdict = WORSE
        which = "mean" if gain < -v.tolerance else "median"
        v.notes.append(f"{which} worse than the tolerance of {v.tolerance:g}")
        if not (significant and high < 0):
            v.notes.append("the test cannot confirm it on these pairs: a regression by its size")
    elif significant and high < 0 and gain < -v.tolerance:
        v.verdict = WORSE
    elif significant and low > 0 and gain > v.tolerance:
        v.verdict = BETTER
    elif significant and (high < 0 or low > 0):
        v.notes.append(f"significant but within the tolerance of {v.tolerance:g}")
    elif v.tolerance > 0 and low < -v.tolerance:
        v.verdict = UNDECIDED
        v.notes.append(f"the interval allows a regression past the tolerance of {v.tolerance:g}: "
                       "more items or seeds would decide")
    if not np.isfinite(v.detectable):
        v.notes.append(f"{v.n} pairs: the test can never reject (smallest p {smallest_p(v.n):.3g} before Holm)")


def _left_out(undefined: dict | None) -> list[str]:
    """The line saying how many pairs each output lost to an undefined score (none: no line)."""
    if not undefined:
        return []
    counts = ", ".join(f"{metric} {n}" for metric, n in undefined.items())
    return ["", f"Left out: {sum(undefined.values())} pairs whose score is undefined on either side "
                f"(the reasons are in the records' metric_errors): {counts}."]


@dataclass
class Comparison:
    candidate: str
    baseline: str
    suite: str
    profile: str
    verdicts: list[Verdict]
    counts: dict
    alpha: float
    confidence: float
    paired: pd.DataFrame | None = None  # the per-item pairs, for the breakdown by dataset and corruption

    @property
    def regression(self) -> bool:
        """A significant regression on any metric, or candidate cells failing where the baseline's did not."""
        return any(v.verdict == WORSE for v in self.verdicts) or self.counts.get("candidate_failed", 0) > \
            self.counts.get("baseline_failed", 0)

    @property
    def undecided(self) -> list[str]:
        return [v.metric for v in self.verdicts if v.verdict == UNDECIDED]

    def markdown(self) -> str:
        lines = [f"### bench compare: `{self.candidate}` vs `{self.baseline}`", "",
                 f"Suite `{self.suite}`, profile `{self.profile}`. Paired per item and seed; difference = candidate "
                 f"- baseline; {self.confidence:.0%} percentile bootstrap interval of the mean; two-sided Wilcoxon "
                 f"signed-rank test, Holm-adjusted over {len(self.verdicts)} metric outputs, alpha {self.alpha:g}. "
                 "A mean or median worse than the tolerance is a regression whatever the p-value. Detectable: the "
                 f"smallest mean difference the test finds with {POWER:.0%} power on these pairs (normal "
                 "approximation with the differences' standard deviation, Wilcoxon efficiency 3/pi, level "
                 "alpha / outputs).", ""]
        lines += self._too_few_pairs()
        lines += ["| Metric | | Pairs | Candidate | Baseline | Mean difference | Median | CI | p (adj.) | Detectable "
                  "| Tolerance | Verdict |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for v in self.verdicts:
            mark = {WORSE: "❌ **worse**", BETTER: "✅ better", SAME: "no significant difference",
                    UNDECIDED: "❔ undecided"}[v.verdict]
            note = f" ({'; '.join(v.notes)})" if v.notes else ""
            detectable = f"{v.detectable:.3g}" if np.isfinite(v.detectable) else "never"
            lines.append(f"| {v.metric} | {'↑' if v.higher_is_better else '↓'} | {v.n} | {v.candidate_mean:.3f} | "
                         f"{v.baseline_mean:.3f} | {v.mean_difference:+.3f} | {v.median_difference:+.3f} | "
                         f"[{v.ci[0]:+.3f}, {v.ci[1]:+.3f}] | {v.p_value:.3g} ({v.p_adjusted:.3g}) | {detectable} | "
                         f"{v.tolerance:g} | {mark}{note} |")
        lines += self._breakdown()
        c = self.counts
        lines += ["", f"Cells: candidate {c.get('candidate_failed', 0)} failed, {c.get('candidate_missing', 0)} "
                      f"missing; baseline {c.get('baseline_failed', 0)} failed, {c.get('baseline_missing', 0)} missing.",
                  *_left_out(c.get("undefined")),
                  "", "**Result: REGRESSION**" if self.regression else "**Result: no regression**"]
        if self.undecided and not self.regression:
            lines.append(f"The data cannot decide on {', '.join(self.undecided)}: run more items or seeds.")
        return "\n".join(lines + [""])

    def _too_few_pairs(self) -> list[str]:
        """A warning when some output has too few pairs for the Wilcoxon test ever to reject at alpha."""
        never = [v for v in self.verdicts if not np.isfinite(v.detectable)]
        if not never:
            return []
        n = min(v.n for v in never)
        return [f"> **Warning:** {n} pairs are too few for the test ever to reject at alpha {self.alpha:g} over "
                f"{len(self.verdicts)} outputs (smallest two-sided p with n pairs: 2/2^n = {smallest_p(n):.3g}); "
                "only the tolerance rule can flag a regression here.", ""]

    def _breakdown(self) -> list[str]:
        """Mean difference per table, dataset and corruption (where a regression sits), when there are several."""
        if self.paired is None:
            return []
        groups = self.paired.groupby(["suite", "dataset", "corruption", "metric"], sort=False)["difference"] \
            .agg(["mean", "count"]).reset_index()
        if groups[["suite", "dataset", "corruption"]].drop_duplicates().shape[0] < 2:
            return []
        metrics = [v.metric for v in self.verdicts]
        wide = groups.pivot_table(index=["suite", "dataset", "corruption"], columns="metric", values="mean",
                                  sort=False)
        lines = ["", "Mean difference by table, dataset and corruption:", "",
                 "| Table | Dataset | Corruption | " + " | ".join(metrics) + " |",
                 "|---|---|---|" + "---|" * len(metrics)]
        for (suite, dataset, corruption), row in wide.iterrows():
            values = " | ".join(f"{row[m]:+.3f}" if m in row and pd.notna(row[m]) else "—" for m in metrics)
            lines.append(f"| {suite} | {dataset} | {corruption} | {values} |")
        return lines
