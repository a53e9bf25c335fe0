"""The table model every renderer draws from: aggregate the long table per suite table.

Rows are methods in the suite's order, columns the suite's layout (by default dataset x metric output),
values mean ± std over items and seeds (or the median and its interquartile range, the 25th and 75th
percentiles, where the suite says ``aggregate = "median"``),
the best value of each column marked, and the paper's published number beside ours where the suite has it.
Renderers (``markdown``, ``csv``, ``latex``, ``html``, ``figures``) sit above this module and use only its
public names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.analysis.rules import EACH, FINAL, describe, parse_rule, rule_rows  # noqa: F401 - rule_rows: old import path
from bench.analysis.rules import which as which_of
from bench.core.protocol import HARNESS_TRAINING, STOP_WHEN_LOSS_STOPS_FALLING, harness_training_value
from bench.metrics import CROSS_CHECKS, get_metric, output_spec
from bench.planning.cells import Cell
from bench.planning.suite import Suite
from bench.records.store import ResultsStore


@dataclass
class Table:
    suite: Suite
    profile: str
    cells: pd.DataFrame  # aggregated: one row per (row label, column labels...), with mean/std/median/q25/q75/n
    rows: list[tuple]  # row label tuples in display order
    row_fields: list[str]
    columns: list[tuple]  # column label tuples in display order
    column_fields: list[str]
    statistic: str
    which: str
    banners: list[str] = field(default_factory=list)
    rule: str = FINAL  # the selection rule (bench.analysis.rules); a "rule" row field shows several (rule_rows)
    # cells that failed or timed out, counted by status, per row and column with the metric and rule left out
    failures: dict[tuple, dict[str, int]] = field(default_factory=dict)
    claims: list = field(default_factory=list)  # the paper's claims evaluated (bench.analysis.paper_claims.Evaluation)
    notes: list[str] = field(default_factory=list)  # facts the caption adds (how trainings that stop early ended)
    # the layout's ``details``: columns of each method row's own facts (``Method.details()``), after the
    # row labels: their headers, and each row's texts
    detail_headers: list[str] = field(default_factory=list)
    details: dict[tuple, list[str]] = field(default_factory=dict)


NO_ITERATES = "no iterates"  # a rule-row table's one row for a method without traced iterates


def build_tables(suite: Suite, cells: list[Cell], store: ResultsStore, profile: str,
                 select: str | None = None) -> list[Table]:
    """The tables of ``suite`` and its includes; ``select`` (a rule of bench.analysis.rules) overrides the suites' own."""
    labels = {c.key: c.labels for c in cells}
    frame = store.table([c.key for c in cells], labels)
    tables = [_build_table(table, frame, cells, profile, select, store.root) for table in suite.tables()]
    from bench.analysis.paper_claims import evaluate_table

    for table in tables:
        table.claims = evaluate_table(table.suite, frame, profile) if table.suite.claims else []
    return tables


def _build_table(suite: Suite, frame: pd.DataFrame, cells: list[Cell], profile: str,
                 select: str | None = None, results_root=None) -> Table:
    settings = suite.resolved(profile)
    statistic = settings.get("aggregate", "mean")
    rule = parse_rule(select or settings.get("select", FINAL))
    which = which_of(rule)
    mine = [c for c in cells if c.labels.get("suite") == suite.name]
    sub = frame[frame["suite"] == suite.name] if not frame.empty else frame
    outputs = [o for name in suite.metrics for o in get_metric(name).output_names]
    if suite.layout.get("sources") == "each":  # separation: one column per source, not their mean
        outputs = _per_source(outputs, set(sub["metric"]) if len(sub) else set())
    column_fields = list(suite.layout.get("columns", ["dataset", "metric"]))
    row_fields = list(suite.layout.get("rows", ["method"]))
    shown_columns = [tuple(c) for c in suite.layout.get("show", [])]  # exactly these columns, in this order
    if shown_columns and "metric" in column_fields:  # e.g. one task's mean and another's first source
        at = column_fields.index("metric")
        outputs = list(dict.fromkeys([*outputs, *(c[at] for c in shown_columns)]))
    if "rule" in row_fields:  # one row per rule: the long table's `which` becomes the row's label
        shown = {which_of(r): r for r in rule_rows(rule)}
        ok = sub[(sub["status"] == "ok") & (sub["which"].isin(list(shown))) & (sub["metric"].isin(outputs))]
        ok = _once_without_iterates(ok.assign(rule=ok["which"].map(shown)))
    else:
        ok = sub[(sub["status"] == "ok") & (sub["which"] == which) & (sub["metric"].isin(outputs))]
    group = [*row_fields, *column_fields]
    agg = ok.groupby(group, sort=False)["value"].agg(
        mean="mean", std=lambda v: v.std(ddof=1) if v.count() > 1 else 0.0, median="median",
        q25=lambda v: v.quantile(0.25), q75=lambda v: v.quantile(0.75), n="count").reset_index()

    order = {"method": [m.label for m in suite.methods], "dataset": [d.label for d in suite.datasets],
             "corruption": [c.label for c in suite.corruptions], "metric": outputs, "rule": [*rule_rows(rule), NO_ITERATES]}
    present_columns = {tuple(row) for row in agg[column_fields].itertuples(index=False)}
    present_rows = {tuple(row) for row in agg[row_fields].itertuples(index=False)}
    # a row (or, in a table where nothing is scored, a column) whose cells all failed is shown with its
    # failures rather than left out
    failures = _failures(sub, [f for f in (*row_fields, *column_fields) if f not in _UNSCORED])
    cut = len(_scored_part(row_fields, row_fields))
    failed_rows, failed_columns = {k[:cut] for k in failures}, {k[cut:] for k in failures}
    columns = [c for c in shown_columns or _product([order[f] for f in column_fields]) if c in present_columns
               or not present_columns and _scored_part(column_fields, c) in failed_columns]
    rows = [r for r in _product([order[f] for f in row_fields])
            if r in present_rows or _scored_part(row_fields, r) in failed_rows]
    banners = _banners(suite, profile, sub, mine)
    if "rule" not in row_fields:
        banners += _missing_rule(rule, sub)
    banners += _undefined_banners(ok)
    banners += _cross_check_banners(ok, row_fields)
    detail_headers = list(suite.layout.get("details", {}))
    return Table(suite, profile, agg, rows, row_fields, columns, column_fields, statistic, which, banners, rule,
                 failures, notes=_training_stops(mine, results_root), detail_headers=detail_headers,
                 details=_method_details(suite, rows, row_fields) if detail_headers else {})


_UNSCORED = ("metric", "rule")  # fields a failed cell has no value of: its failures are counted without them


def _scored_part(fields: list[str], values: tuple) -> tuple:
    return tuple(v for f, v in zip(fields, values) if f not in _UNSCORED)


def _failures(frame: pd.DataFrame, fields: list[str]) -> dict[tuple, dict[str, int]]:
    """The failed and timed-out cells of ``frame``, counted by status, per value of ``fields``."""
    if not len(frame) or not fields:
        return {}
    bad = frame[frame["status"].isin(["failed", "timeout"])].drop_duplicates("key")
    return {values if isinstance(values, tuple) else (values,): group["status"].value_counts().to_dict()
            for values, group in bad.groupby(fields, sort=False, dropna=False)}


def failure_text(counts: dict[str, int]) -> str:
    """``3 failed, 1 timeout``."""
    return ", ".join(f"{counts[s]} {s}" for s in ("failed", "timeout") if counts.get(s))


def _once_without_iterates(ok: pd.DataFrame) -> pd.DataFrame:
    """A method whose records trace no iterate (the corrupted input, a Wiener filter) has its final estimate
    under every rule: keep that one row, labelled NO_ITERATES, instead of one identical row per rule."""
    if ok.empty:
        return ok
    flat = ~ok.groupby("method")["iterates"].transform("any").astype(bool)
    ok = ok[~flat | (ok["rule"] == FINAL)].copy()
    ok.loc[flat.loc[ok.index], "rule"] = NO_ITERATES
    return ok


def _missing_rule(rule: str, frame: pd.DataFrame) -> list[str]:
    """A banner when some finished cells have no scores under ``rule`` (recorded before the selection
    rules existed, or the rule does not apply to their task)."""
    if rule in (FINAL, EACH) or not len(frame):
        return []
    ok = frame[frame["status"] == "ok"]
    total, have = ok["key"].nunique(), ok[ok["which"] == rule]["key"].nunique()
    if have == total:
        return []
    return [f"RULE {rule} MISSING for {total - have} of {total} finished cells (recorded before selection rules "
            "existed, or the rule does not apply to their task); the means below leave them out."]


def _undefined_banners(shown: pd.DataFrame) -> list[str]:
    """A banner counting the undefined scores (None in a finished cell: a silent estimate's SI-SDR, the SAR of
    an estimate equal to the mixture, a metric not applicable to the task) the means leave out."""
    undefined = shown[shown["value"].isna()]
    if not len(undefined):
        return []
    counts = undefined["metric"].value_counts(sort=False)
    listed = ", ".join(f"{metric} {n} of {int((shown['metric'] == metric).sum())}" for metric, n in counts.items())
    return [f"UNDEFINED: {len(undefined)} scores are undefined or not applicable and left out of the means "
            f"(the reasons are in the records' metric_errors): {listed}."]


def _cross_check_banners(shown: pd.DataFrame, row_fields: list[str]) -> list[str]:
    """A banner per cross-metric check (bench.metrics.CROSS_CHECKS, e.g. BSS Eval v4 against v3 SIR) that
    warns on some of the table's entries, run on the very scores the table shows (the table's iterate, each
    rule's on a rule-row table), so the warning holds for records made before the check existed too."""
    if not CROSS_CHECKS or not len(shown):
        return []
    warned: dict[str, list[str]] = {}
    scored = 0
    for (key, which), scores in shown.groupby(["key", "which"], sort=False):
        scored += 1
        values = {m: v for m, v in zip(scores["metric"], scores["value"]) if pd.notna(v)}
        first = scores.iloc[0]
        where = " / ".join(str(first[f]) for f in ["method", *[f for f in row_fields if f != "method"]]
                           if f in first and pd.notna(first[f]))
        for check in CROSS_CHECKS:
            for name, warning in check(values).items():
                warned.setdefault(name, []).append(f"{where}, item {first['item']}: {warning}")
    return [f"CHECK {name} warns on {len(found)} of {scored} scored entries; first: {found[0]}"
            for name, found in warned.items()]


def _per_source(outputs: list[str], present: set[str]) -> list[str]:
    """Each output's per-source names found in the results (``sdr_v4_src1``, ``sdr_v4_src2``, ...)."""
    out = []
    for name in outputs:
        k = 1
        while f"{name}_src{k}" in present:
            out.append(f"{name}_src{k}")
            k += 1
    return out


def _product(lists):
    out = [()]
    for values in lists:
        out = [prefix + (v,) for prefix in out for v in values]
    return out


def _banners(suite: Suite, profile: str, frame: pd.DataFrame, cells: list[Cell]) -> list[str]:
    banners = []
    declared = {d.label: d for d in suite.datasets}
    standins = sorted({_standin_text(declared.get(c.labels.get("dataset")), c.dataset) for c in cells
                       if c.dataset.get("standin_for")})
    synthetic = bool(len(frame)) and frame["synthetic"].any()
    if standins or synthetic:
        detail = f" ({', '.join(standins)})" if standins else ""
        banners.append(f"SYNTHETIC STAND-IN DATA{detail}: these numbers are not comparable to the paper's.")
    if profile != "paper":
        banners.append(f"Profile '{profile}': items, clip length or iterations are scaled down from the paper's protocol.")
    else:
        banners += _training_changed(suite)
    statuses = frame.drop_duplicates("key")["status"].value_counts() if len(frame) else pd.Series(dtype=int)
    done = int(statuses.sum())
    failed, timeout = int(statuses.get("failed", 0)), int(statuses.get("timeout", 0))
    missing = len(cells) - done
    if failed or timeout or missing:
        banners.append(f"INCOMPLETE: {failed} failed, {timeout} timeout and {missing} missing of "
                       f"{len(cells)} cells; the means below leave them out.")
    banners += _precision_banner(cells)
    return banners


def _precision_banner(cells: list[Cell]) -> list[str]:
    """Where a table's fitted priors ran in more than one precision configuration (a folder filled by two
    machines, or priors that resolved differently): which ran in which (bench.components.precision_probe)."""
    ran: dict[str, dict[str, int]] = {}
    for cell in cells:
        if cell.config.get("precision"):
            precision = cell.config["precision"]
            text = precision["ran"] + (", compiled" if precision.get("compile") else "")
            counts = ran.setdefault(cell.labels.get("method") or cell.method["name"], {})
            counts[text] = counts.get(text, 0) + 1
    if len({text for counts in ran.values() for text in counts}) < 2:
        return []
    parts = [f"{method}: " + ", ".join(f"{text} ({n} cells)" for text, n in counts.items())
             for method, counts in ran.items()]
    return ["MIXED PRECISION: " + "; ".join(parts) + "."]
def _training_changed(suite: Suite) -> list[str]:
    """Under the paper profile: a banner naming each trained method whose training the suite changes from
    the method's defaults (the paper's protocol as implemented), e.g. fewer epochs or a smaller window."""
    from bench.components.method import METHODS
    from bench.components.training import is_trained

    changes = []
    for method in suite.methods:
        cls = METHODS.get(method.name).obj
        if not is_trained(cls):
            continue
        resolved = suite.training_for(method, cls.training_defaults, "paper")
        # a harness key (early stopping) is the caption's: it says how each training ended
        changed = [f"{k} {resolved[k]} (default {v})" for k, v in cls.training_defaults.items()
                   if k not in HARNESS_TRAINING and resolved[k] != v]
        if changed:
            changes.append(f"{method.label}: {', '.join(changed)}")
    if not changes:
        return []
    return [f"TRAINING CHANGED under profile 'paper' from the methods' own protocols: {'; '.join(changes)}."]


def _training_stops(cells: list[Cell], results_root) -> list[str]:
    """For the caption, where a table's trainings stop early (``stop_when_loss_stops_falling``): after which
    epoch each stopped, and how many ran all their epochs or are not trained, as the job folders under
    ``results_root`` say."""
    jobs = {}
    for cell in cells:
        job = cell.training
        if job is not None and harness_training_value(job.protocol, STOP_WHEN_LOSS_STOPS_FALLING):
            jobs[job.key] = (cell.labels.get("method") or job.config["method"]["name"], job)
    if not jobs:
        return []
    stopped, others = [], {}
    for label, job in jobs.values():
        folder = job.files(results_root) if results_root is not None else None
        if folder is None or not folder.is_done():
            others["not trained here"] = others.get("not trained here", 0) + 1
        elif folder.stopped_early():
            at = folder.stopped_early()
            stopped.append(f"{label}, seed {job.seed}, after epoch {at['epoch'] + 1} of {at['epochs']}")
        else:
            others["ran all their epochs"] = others.get("ran all their epochs", 0) + 1
    parts = [f"stopped early: {'; '.join(stopped)}"] if stopped else []
    parts += [f"{n} of {len(jobs)} {text}" for text, n in others.items()]
    return [f"early stopping (a training ends after the first epoch whose mean loss did not fall): "
            f"{'; '.join(parts)}"]


def _method_details(suite: Suite, rows: list[tuple], row_fields: list[str]) -> dict[tuple, list[str]]:
    """Each row's texts of the layout's ``details`` (header -> the name of a fact its method's
    ``details()`` gives, e.g. ``N_P = "parameters"``), computed from the method's parameters: nothing runs."""
    from bench.components.method import build_method

    wanted = list(suite.layout["details"].values())
    facts = {}
    for method in suite.methods:
        try:
            given = build_method(method.name, method.params).details()
        except (TypeError, ValueError):  # parameters the method refuses: its cells say why
            given = {}
        facts[method.label] = [detail_text(given.get(name)) for name in wanted]
    at = row_fields.index("method")
    return {row: facts.get(row[at], [detail_text(None)] * len(wanted)) for row in rows}


def detail_text(value) -> str:
    """A method's fact as a table shows it: a count of a million or more in millions (6.478M, as the
    papers print parameter counts), other counts with thousands separators, "—" where the method gives none."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value / 1e6:.3f}M" if abs(value) >= 1_000_000 else f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _standin_text(declared, dataset: dict) -> str:
    """"ljspeech -> synthetic-speech"; for a stack, its sources: "wavegan-piano + wavegan-drums -> ..."."""
    def sources(params: dict) -> str | None:
        names = [s["name"] if isinstance(s, dict) else s for s in (params or {}).get("sources", [])]
        return " + ".join(names) if names and all(isinstance(n, str) for n in names) else None

    was, now = dataset["standin_for"], dataset["name"]
    if was == now and declared is not None:  # a combinator whose parts were replaced
        was, now = sources(declared.params) or was, sources(dataset["params"]) or now
    return f"{was} -> {now}"


def _format(mean: float, std: float, median: float, n: int, statistic: str,
            quartiles: tuple[float, float] | None = None) -> str:
    if n == 0 or np.isnan(mean):
        return "—"
    if statistic == "median":
        iqr = f" [{quartiles[0]:.2f}, {quartiles[1]:.2f}]" if quartiles is not None else ""
        return f"{median:.2f}{iqr} (n={n})"
    return f"{mean:.2f} ± {std:.2f}"


@dataclass
class Entry:
    """One table cell as every renderer shows it."""

    text: str  # the statistic as text ("—" when there is nothing)
    value: float | None  # the statistic (mean or median)
    std: float | None
    n: int
    best: bool = False
    reference: dict | None = None  # the paper's number: {"mean", "std"?}
    difference: float | None = None  # ours minus the paper's
    quartiles: tuple[float, float] | None = None  # 25th and 75th percentiles (median tables)

    @property
    def reference_text(self) -> str:
        if not self.reference:
            return ""
        std = f" ± {self.reference['std']:.2f}" if self.reference.get("std") is not None else ""
        diff = f", Δ {self.difference:+.2f}" if self.difference is not None else ""
        return f"paper {self.reference['mean']:.2f}{std}{diff}"


def entries(table: Table) -> dict[tuple[tuple, tuple], Entry]:
    """Every (row, column) of a table with its value, best flag, the paper's number and our difference."""
    index = {tuple(r[f] for f in (*table.row_fields, *table.column_fields)): r
             for _, r in table.cells.iterrows()}
    best = _best_rows(table)
    n_max = int(table.cells["n"].max()) if len(table.cells) else 0
    out = {}
    for row in table.rows:
        for column in table.columns:
            hit = index.get(row + column)
            if hit is None or int(hit["n"]) == 0:
                failed = table.failures.get(_scored_part(table.row_fields, row)
                                            + _scored_part(table.column_fields, column))
                entry = Entry(f"— ({failure_text(failed)})" if failed else "—", None, None, 0)
            else:
                n = int(hit["n"])
                value = float(hit["median" if table.statistic == "median" else "mean"])
                quartiles = (float(hit["q25"]), float(hit["q75"])) if table.statistic == "median" else None
                text = _format(hit["mean"], hit["std"], hit["median"], n, table.statistic, quartiles)
                if table.statistic != "median" and n < n_max:
                    text += f" (n={n})"  # fewer items than the rest of the table: failed or missing cells
                entry = Entry(text, value, float(hit["std"]), n, best=(row, column) in best, quartiles=quartiles)
            entry.reference = _reference(table, row, column)
            if entry.reference and entry.value is not None:
                entry.difference = entry.value - float(entry.reference["mean"])
            out[(row, column)] = entry
    for (row, column), (to_oracle, over_final) in rule_gaps(table, out).items():
        out[(row, column)].text += f" [loss to oracle {to_oracle:+.2f}, gain over final {over_final:+.2f}]"
    return out


def rule_gaps(table: Table, values: dict | None = None) -> dict[tuple[tuple, tuple], tuple[float, float]]:
    """For a table with a "rule" row field, each blind rule's entry: (its loss against the table's oracle
    rule, its gain over the final iterate), in the metric's unit and signed by its direction (a positive
    loss is worse than the oracle, a positive gain better than the final iterate)."""
    if "rule" not in table.row_fields:
        return {}
    values = values if values is not None else entries(table)
    at = table.row_fields.index("rule")
    metric_at = table.column_fields.index("metric") if "metric" in table.column_fields else None
    out = {}
    for (row, column), entry in values.items():
        if not row[at].startswith("blind:") or entry.value is None:
            continue
        oracle = values.get((row[:at] + (table.rule,) + row[at + 1:], column))
        final = values.get((row[:at] + (FINAL,) + row[at + 1:], column))
        if oracle is None or final is None or oracle.value is None or final.value is None:
            continue
        spec = output_spec(column[metric_at]) if metric_at is not None else None
        sign = 1.0 if spec is None or spec.higher_is_better else -1.0
        out[(row, column)] = (sign * (oracle.value - entry.value), sign * (entry.value - final.value))
    return out


def _lookup(table: Table, row: tuple, column: tuple):
    frame = table.cells
    mask = pd.Series(True, index=frame.index)
    for field_name, value in [*zip(table.row_fields, row), *zip(table.column_fields, column)]:
        mask &= frame[field_name] == value
    hit = frame[mask]
    return None if hit.empty else hit.iloc[0]


def _best_rows(table: Table) -> set[tuple[tuple, tuple]]:
    """(row, column) pairs holding the best value of their column, within each group of rows that share
    every row field but the method (by the metric's direction); none in a group of one row."""
    metric_index = table.column_fields.index("metric") if "metric" in table.column_fields else None
    method_index = table.row_fields.index("method") if "method" in table.row_fields else None
    best = set()
    for column in table.columns:
        spec = output_spec(column[metric_index]) if metric_index is not None else None
        higher = spec.higher_is_better if spec else True
        groups: dict[tuple, dict[tuple, float]] = {}
        for row in table.rows:
            hit = _lookup(table, row, column)
            if hit is not None and hit["n"] > 0:
                group = tuple(v for i, v in enumerate(row) if i != method_index)
                groups.setdefault(group, {})[row] = hit["median" if table.statistic == "median" else "mean"]
        for values in groups.values():
            if len(values) < 2:  # a method alone in its group is not "best" of anything
                continue
            best.add(((max if higher else min)(values, key=values.get), column))
    return best


def _reference(table: Table, row: tuple, column: tuple) -> dict | None:
    refs = {(r.get("method"), r.get("dataset"), r.get("corruption"), r.get("metric")): r
            for r in table.suite.references}
    if not refs:
        return None
    named = {**dict(zip(table.row_fields, row)), **dict(zip(table.column_fields, column))}
    method = named.get("method")
    for key in ((method, named.get("dataset"), named.get("corruption"), named.get("metric")),
                (method, named.get("dataset"), None, named.get("metric"))):
        if key in refs:
            return refs[key]
    # a reference may name a dataset or corruption the layout does not show: then it must be one of the suite's
    hidden = {"dataset": table.suite.datasets, "corruption": table.suite.corruptions}
    for ref in table.suite.references:
        if (ref.get("method"), ref.get("metric")) != (method, named.get("metric")):
            continue
        if all(ref.get(f) is None or (ref[f] == named[f] if f in named
                                      else ref[f] in {c.label for c in hidden[f]} | {c.name for c in hidden[f]})
               for f in hidden):
            return ref
    return None


def header_parts(table: Table, column: tuple) -> list[str]:
    parts = []
    for field_name, value in zip(table.column_fields, column):
        if field_name == "metric":
            spec = output_spec(value)
            value = f"{value} {spec.arrow}" if spec else value
        parts.append(str(value))
    return parts


def header(table: Table, column: tuple) -> str:
    return " / ".join(header_parts(table, column))


def column_groups(table: Table) -> list[tuple[str, int]]:
    """Runs of columns sharing their first label (the paper's column groups): (label, span)."""
    groups: list[tuple[str, int]] = []
    for column in table.columns:
        label = str(column[0])
        if groups and groups[-1][0] == label:
            groups[-1] = (label, groups[-1][1] + 1)
        else:
            groups.append((label, 1))
    return groups


def shown_row_labels(table: Table) -> list[list[str]]:
    """Row labels with repeats of an enclosing group left blank, as in the papers' tables."""
    out, previous = [], ()
    for row in table.rows:
        out.append([("" if i < len(previous) and previous[:i + 1] == row[:i + 1] else str(v))
                    for i, v in enumerate(row)])
        previous = row
    return out


def caption(table: Table) -> str:
    n_items = int(table.cells["n"].max()) if len(table.cells) else 0
    shown = "median [25th, 75th percentile]" if table.statistic == "median" else "mean ± std"
    iterate = (f"one row per selection rule, each blind rule with its loss against the oracle, {describe(table.rule)}, "
               "and its gain over the final iterate (positive: better)" if "rule" in table.row_fields
               else describe(table.rule))
    paper = "; the paper's published number and our difference beside ours" if table.suite.references else ""
    notes = "".join(f"; {note}" for note in table.notes)
    return (f"{shown} over n={n_items} items x seeds per entry (fewer where marked); {iterate}; "
            f"best per column in bold; ↑ higher is better, ↓ lower is better{paper}; profile {table.profile}"
            f"{notes}.")
