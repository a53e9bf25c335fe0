"""``bench claims``: every claim of the papers' suites and what a results folder says about it."""
from __future__ import annotations

import json

from bench.analysis.paper_claims import Evaluation
from bench.commands.arguments import PROFILE_NAMES


def register(subparsers) -> None:
    p = subparsers.add_parser("claims", help="the papers' claims checked on a results folder (from its records alone)")
    p.add_argument("--suite", default="all", help="suite name or path (a,b: several; default all)")
    p.add_argument("--profile", choices=PROFILE_NAMES,
                   help="only records of this profile (default: each profile the folder holds)")
    p.add_argument("--results", help="results directory, or A,B,... read as one (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--format", default="md", choices=["md", "json"])
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(handler=cmd_claims)


def cmd_claims(args) -> int:
    from bench.analysis.paper_claims import as_json, evaluate_records
    from bench.commands.text_output import emit
    from bench.planning.selection import load_suites
    from bench.records.merge import existing_roots, open_results

    suite = load_suites(args.suite)
    roots = existing_roots(args.results)
    store = open_results(args.results)
    evaluations = evaluate_records(suite, list(store.records()), args.profile)
    if not any(t.claims for t in suite.tables()):
        raise ValueError(f"suite {suite.name} declares no claims")
    where = ", ".join(map(str, roots))
    text = page(evaluations, where) if args.format == "md" else json.dumps(as_json(evaluations), indent=1)
    emit(text, args.output)
    return 0


def page(evaluations: list[Evaluation], where: str) -> str:
    """``bench claims``: every claim, table by table, and how many this folder decides."""
    from bench.analysis.paper_claims import EXPLANATION
    from bench.planning.suite import PROFILES
    from bench.reporting.markdown import claims_markdown

    statistics = sorted({ev.statistic for ev in evaluations}) or ["mean"]
    lines = [f"# The papers' claims on {where}", "", EXPLANATION.format(statistic=" or ".join(statistics)) +
             " A median table (Mimilakis et al., Venkataramani et al.) uses the median.", ""]
    by_table: dict[tuple[str, str], list[Evaluation]] = {}
    for ev in evaluations:
        by_table.setdefault((ev.table, ev.profile), []).append(ev)
    summary = []
    for (table, profile), evs in by_table.items():
        held = any(ev.findings for ev in evs)
        lines += [f"## {table}" + (f" (profile {profile})" if held else ": no records in this folder"), "",
                  claims_markdown(evs, explain=False)]
        summary.append(f"- {table}" + (f" ({profile})" if held else "") +
                       f": {sum(ev.decided for ev in evs)} of {len(evs)} decided")
    decided = sum(ev.decided for ev in evaluations)
    lines += ["## Summary", "", f"{decided} of {len(evaluations)} claims are decided (supported or contradicted "
              "under at least one rule) by this folder:", "", *summary]
    if not any(ev.profile == "cpu" and ev.findings for ev in evaluations):
        lines += ["", f"No record here is of the `cpu` profile ({PROFILES['cpu'].description.split(':')[0]}), sized "
                      "per suite so that a CPU decides as many of its claims as it can: `bench run --suite S "
                      "--profile cpu`, then pass its folder here."]
    return "\n".join(lines) + "\n"
