"""One leaderboard per task: every method that ran on it, across every suite of the results folders.

The common scale is the improvement over the corrupted input of the task's main metric (MAIN_METRICS: the
first output of the list that a suite recorded for both the estimate and the input), per item and seed. A
*group* is one suite table, dataset, corruption and profile: every method in a group saw the same items. A
method's score is the mean over its groups of its mean improvement there (each group weighs the same), and
its mean rank is its rank within each group averaged over its groups. Methods are identified by registered
name and parameters (their labels differ between suites) and ordered by score.

What is ranked is what a user gets without the clean signal: for a method with traced iterates, its best
blind stopping rule (bench.analysis.stopping; the one with the best score among the rules that picked an iterate on
every one of its items, named in the table; chosen on these very items, so slightly optimistic), with the
oracle (the iterate best by the main metric against the clean signal) and the final iterate beside it. A
method without iterates is ranked by its final estimate.

Each position has a percentile bootstrap 95 % interval: the items of every group are resampled (the same
draw for every method of the group, so pairs stay paired), scores and positions recomputed, and the 2.5th and
97.5th percentiles of each method's position taken.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

MAIN_METRICS = {"denoising": ["si_sdr", "snr"], "inpainting": ["si_sdr", "snr", "spectral_snr"],
                "dereverberation": ["si_sdr", "snr"], "separation": ["si_sdr", "sdr_v4", "snr"],
                "reconstruction": ["si_sdr", "snr"]}
TASKS = list(MAIN_METRICS)
RESAMPLES = 1000
GROUP = ["suite", "dataset", "corruption", "profile"]


@dataclass
class Entry:
    method: str  # the shown name: its first label
    spec: str  # registered name[params]
    rule: str  # the ranked rule: blind:<name>, or final for a method without iterates
    score: float  # mean improvement over the corrupted input (main metric's unit)
    oracle: float | None
    final: float
    mean_rank: float
    groups: int
    pairs: int
    suites: list[str]
    position: int = 0
    interval: tuple[int, int] = (0, 0)
    provenance: dict = field(default_factory=dict)  # labels, version, hosts, torch versions, devices


@dataclass
class Board:
    task: str
    metric: str  # the main metric(s) used, e.g. "si_sdr" or "si_sdr, snr"
    entries: list[Entry]


def method_spec(config_method: dict) -> str:
    params = config_method.get("params") or {}
    body = ",".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(params.items()))
    return f"{config_method['name']}[{body}]" if body else config_method["name"]


def improvements(records: list[dict], profile: str | None = None) -> pd.DataFrame:
    """One row per finished cell x rule: task, group, method spec, item, seed, the main metric's improvement."""
    from bench.core.registry import CORRUPTIONS

    rows = []
    for r in records:
        if r["status"] != "ok" or (profile and (r["labels"].get("profile") or "paper") != profile):
            continue
        cfg, labels = r["config"], r["labels"]
        try:
            task = CORRUPTIONS.get(cfg["corruption"]["name"]).meta.get("task")
        except Exception:  # noqa: BLE001 - a corruption this bench no longer has
            continue
        base_in = r.get("input_scores") or {}
        estimate = r.get("scores") or {}
        metric = next((m for m in MAIN_METRICS.get(task, []) if _finite(estimate.get(m)) and _finite(base_in.get(m))),
                      None)
        if metric is None:
            continue
        base = {"task": task, "metric": metric, "suite": labels.get("suite"), "dataset": labels.get("dataset"),
                "corruption": labels.get("corruption"), "profile": labels.get("profile") or "paper",
                "spec": method_spec(cfg["method"]), "label": labels.get("method", cfg["method"]["name"]),
                "item": str(cfg["item"]), "seed": cfg["seed"], "iterates": bool(r.get("trace")),
                "version": cfg["method"].get("version"), "host": (r.get("provenance") or {}).get("host"),
                "torch": (r.get("provenance") or {}).get("torch"), "device": r.get("device")}
        picks = {"final": estimate, **{rule: (pick or {}).get("scores") or {}
                                       for rule, pick in (r.get("selected") or {}).items()
                                       if rule.startswith("blind:") or rule == f"oracle:{metric}"}}
        for rule, scores in picks.items():
            if _finite(scores.get(metric)) and (rule == "final" or (r.get("selected") or {})[rule].get("iteration")
                                                is not None or not r.get("trace")):
                rows.append({**base, "rule": "oracle" if rule.startswith("oracle") else rule,
                             "value": scores[metric] - base_in[metric]})
    return pd.DataFrame(rows)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def boards(records: list[dict], profile: str | None = None, resamples: int = RESAMPLES,
           rule: str = "blind") -> list[Board]:
    """A board per task found in ``records``; ``rule`` "blind" (default), "oracle" or "final" is what is ranked."""
    frame = improvements(records, profile)
    if frame.empty:
        return []
    return [_board(task, frame[frame["task"] == task], resamples, rule) for task in TASKS
            if (frame["task"] == task).any()]


def _board(task: str, frame: pd.DataFrame, resamples: int, ranked_rule: str) -> Board:
    chosen = {spec: _ranked_rule(rows, ranked_rule) for spec, rows in frame.groupby("spec")}
    ranked = pd.concat([rows[rows["rule"] == chosen[spec]] for spec, rows in frame.groupby("spec")])
    means = ranked.groupby(["spec", *GROUP])["value"].mean()
    scores = means.groupby("spec").mean()
    ranks = means.groupby(GROUP).rank(ascending=False, method="average").groupby("spec").mean()
    order = list(scores.sort_values(ascending=False).index)
    intervals = _position_intervals(ranked, order, resamples)
    entries = []
    for position, spec in enumerate(order, 1):
        rows = frame[frame["spec"] == spec]
        entries.append(Entry(
            method=rows["label"].iloc[0], spec=spec, rule=chosen[spec], score=float(scores[spec]),
            oracle=_score(rows, "oracle" if rows["iterates"].any() else "final"), final=float(_score(rows, "final")), mean_rank=float(ranks[spec]),
            groups=int(means.loc[spec].shape[0]), pairs=int((ranked["spec"] == spec).sum()),
            suites=sorted(rows["suite"].dropna().unique()), position=position, interval=intervals[spec],
            provenance={"labels": sorted(rows["label"].unique()), "version": str(rows["version"].iloc[0]),
                        "hosts": sorted(rows["host"].dropna().unique()),
                        "torch": sorted(rows["torch"].dropna().unique()),
                        "devices": sorted(rows["device"].dropna().unique())}))
    return Board(task, ", ".join(sorted(frame["metric"].unique())), entries)


def _ranked_rule(rows: pd.DataFrame, wanted: str) -> str:
    """The rule ranked for one method: final without iterates; else the oracle, the final iterate, or the best
    blind rule among those with a value on every item the final iterate has."""
    if wanted == "final" or not rows["iterates"].any():
        return "final"
    if wanted == "oracle" and (rows["rule"] == "oracle").any():
        return "oracle"
    needed = len(rows[rows["rule"] == "final"])
    blind = rows[rows["rule"].str.startswith("blind:")]
    complete = [r for r, g in blind.groupby("rule") if len(g) == needed]
    if wanted != "blind" or not complete:
        return "final"
    return max(complete, key=lambda r: (_score(blind, r), r))


def _score(rows: pd.DataFrame, rule: str) -> float | None:
    mine = rows[rows["rule"] == rule]
    return float(mine.groupby(GROUP)["value"].mean().mean()) if len(mine) else None


def _position_intervals(ranked: pd.DataFrame, order: list[str], resamples: int) -> dict[str, tuple[int, int]]:
    rng = np.random.default_rng(0)
    groups = []
    for _, rows in ranked.groupby(GROUP):
        wide = rows.pivot_table(index=["item", "seed"], columns="spec", values="value")
        groups.append(wide)
    positions = {spec: [] for spec in order}
    for _ in range(resamples):
        sums, counts = pd.Series(0.0, index=order), pd.Series(0, index=order)
        for wide in groups:
            draw = wide.iloc[rng.integers(0, len(wide), len(wide))].mean()
            draw = draw.dropna()
            sums[draw.index] += draw
            counts[draw.index] += 1
        score = (sums / counts.replace(0, np.nan)).dropna()
        for position, spec in enumerate(score.sort_values(ascending=False).index, 1):
            positions[spec].append(position)
    return {spec: (int(np.percentile(p, 2.5, method="lower")), int(np.percentile(p, 97.5, method="higher")))
            if p else (0, 0) for spec, p in positions.items()}


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def candidate_line(board: Board, spec: str) -> str | None:
    """"would rank 3rd of 9 on denoising; interval 2nd-5th" for the entry of this method spec."""
    entry = next((e for e in board.entries if e.spec == spec), None)
    if entry is None:
        return None
    low, high = entry.interval
    span = ordinal(low) if low == high else f"{ordinal(low)}-{ordinal(high)}"
    return (f"{entry.method} ({entry.spec}) would rank {ordinal(entry.position)} of {len(board.entries)} on "
            f"{board.task}; interval {span}")


# -- rendering ------------------------------------------------------------------------------------------
EXPLANATION = ("Score: mean improvement over the corrupted input of the task's main metric (dB), averaged over "
               "groups (suite table x dataset x corruption x profile); ranked under each method's best blind "
               "stopping rule (named; a method without iterates: its final estimate), oracle and final iterate "
               "beside it; position interval: percentile bootstrap 95 % over items; mean rank: within groups.")


def _row(e: Entry) -> list[str]:
    low, high = e.interval
    return [str(e.position), f"{e.method} (`{e.spec}`)", f"{low}-{high}", f"{e.score:+.2f}", e.rule,
            f"{e.oracle:+.2f}" if e.oracle is not None else "—", f"{e.final:+.2f}", f"{e.mean_rank:.2f}",
            str(e.groups), str(e.pairs), ", ".join(e.suites)]


HEADERS = ["#", "Method", "95 % interval", "Score", "Ranked rule", "Oracle", "Final", "Mean rank", "Groups",
           "Pairs", "Suites"]


def markdown(boards_: list[Board]) -> str:
    from bench.reporting.markdown import cell_text

    out = [f"_{EXPLANATION}_", ""]
    for board in boards_:
        out += [f"## Leaderboard: {board.task} (improvement of {board.metric})", "",
                "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        out += ["| " + " | ".join(cell_text(c) for c in _row(e)) + " |" for e in board.entries]
        out.append("")
    return "\n".join(out)


def as_json(boards_: list[Board]) -> str:
    return json.dumps([asdict(b) for b in boards_], indent=1)


SORT_SCRIPT = """
document.querySelectorAll('table.board th').forEach((th, column) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const descending = th.dataset.order !== 'desc';
  th.closest('tr').querySelectorAll('th').forEach(h => delete h.dataset.order);
  th.dataset.order = descending ? 'desc' : 'asc';
  const key = row => { const c = row.cells[column]; return c.dataset.sort !== undefined ? parseFloat(c.dataset.sort) : c.textContent; };
  [...body.rows].sort((a, b) => {
    const x = key(a), y = key(b);
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return descending ? -order : order;
  }).forEach(row => body.appendChild(row));
}));
"""


def html_page(boards_: list[Board], where: str) -> str:
    """A self-contained page: a sortable table per task (click a header), each method's provenance, and
    links to the per-suite tables as ``bench report --format html`` writes them beside this page
    (``<suite>/index.html``)."""
    from bench.reporting.html import escape, page
    from bench.reporting.paths import safe_name

    parts = [f"<h1>Leaderboards of {escape(where)}</h1>", f'<p class="caption">{escape(EXPLANATION)} Click a '
             "column header to sort.</p>"]
    for board in boards_:
        parts.append(f"<h2>{escape(board.task)} (improvement of {escape(board.metric)})</h2>")
        head = "".join(f"<th>{escape(h)}</th>" for h in [*HEADERS[:-1], "Provenance", "Suites"])
        body = []
        for e in board.entries:
            shown = _row(e)
            shown[1] = f"{e.method} ({e.spec})"  # no Markdown code marks in HTML
            numbers = [e.position, None, e.interval[0], e.score, None, e.oracle, e.final, e.mean_rank, e.groups,
                       e.pairs]
            cells = [f'<td data-sort="{n}">{escape(t)}</td>' if isinstance(n, (int, float)) else
                     f"<td>{escape(t)}</td>" for t, n in zip(shown[:-1], numbers)]
            p = e.provenance
            cells.append(f"<td>{escape(e.spec)} v{escape(p['version'])}; labels: {escape('; '.join(p['labels']))}; "
                         f"hosts: {escape(', '.join(p['hosts']) or '—')}; torch {escape(', '.join(p['torch']) or '—')}; "
                         f"{escape(', '.join(p['devices']) or '—')}</td>")
            cells.append("<td>" + ", ".join(f'<a href="{escape(safe_name(s))}/index.html">{escape(s)}</a>'
                                            for s in e.suites) + "</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        parts.append(f'<table class="board"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
    return page("bench leaderboard", "\n".join(parts) + f"\n<script>{SORT_SCRIPT}</script>")
