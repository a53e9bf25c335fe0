"""``bench claims``: every claim of the papers' suites and what a results folder says about it."""
from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser("claims", help="the papers' claims checked on a results folder (from its records alone)")
    p.add_argument("--suite", default="all", help="suite name or path (a,b: several; default all)")
    p.add_argument("--profile", choices=["smoke", "quick", "paper"],
                   help="only records of this profile (default: each profile the folder holds)")
    p.add_argument("--results", help="results directory, or A,B,... read as one (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--format", default="md", choices=["md", "json"])
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(handler=cmd_claims)


def cmd_claims(args) -> int:
    from bench.merge import existing_roots, open_results
    from bench.paper_claims import as_json, evaluate_records, page
    from bench.selection import load_suites
    from bench.text_output import emit

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
