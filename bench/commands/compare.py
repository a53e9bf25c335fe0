"""``bench compare``: a candidate method against a baseline on a suite's cells; exit 1 on a regression."""
from __future__ import annotations

import sys
from pathlib import Path

from bench.commands.arguments import PROFILE_NAMES, add_backend_args, add_selection_args, backend_options
from bench.commands.exit_codes import EXIT_CELLS_FAILED, EXIT_OK

EXIT_REGRESSION = EXIT_CELLS_FAILED


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="paired comparison of a candidate method against a baseline; exit 1 on a regression",
        description="Runs the candidate (and the baseline) on the suite's datasets, corruptions, items and seeds "
                    "(cached cells are reused) and tests the paired per-item differences of every metric.")
    p.add_argument("--suite", required=True, help="suite name or path to a suite .toml (a,b: several)")
    add_selection_args(p, methods=False)
    p.add_argument("--candidate", required=True, help="method, optionally with parameters: name[key=value,...]")
    p.add_argument("--baseline", help="baseline method spec (default with --baseline-results: the candidate's)")
    p.add_argument("--baseline-results", help="read the baseline's cells from this results directory "
                   "(e.g. a run of the previous code) instead of running them")
    p.add_argument("--tolerance", action="append", default=[],
                   help="acceptable difference in the metric's unit: a mean or median worse than it is a regression "
                        "whatever the p-value; a number for every metric, or metric=number (repeatable); default "
                        "0.25 for dB and 0.05 for PESQ, 0 (the test alone decides) for other units")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm adjustment")
    p.add_argument("--confidence", type=float, default=0.95, help="bootstrap confidence level")
    p.add_argument("--profile", choices=PROFILE_NAMES,
                   help="default: the profile the results folder holds for the suite, else paper")
    p.add_argument("--synthetic", action="store_true", help="synthetic stand-ins for missing corpora")
    p.add_argument("--data", help="data root (default: $BENCH_DATA or ~/bench-data)")
    p.add_argument("--results", help="results directory (default: $BENCH_RESULTS or ./results)")
    add_backend_args(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-o", "--output", help="also write the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    p.set_defaults(handler=cmd_compare)


def parse_tolerances(values: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        metric, _, number = value.rpartition("=")
        out[metric or "*"] = float(number)
    return out


def cmd_compare(args) -> int:
    from bench.analysis.compare import Comparison, cells_for, outputs_of, pairs, parse_method, verdicts
    from bench.core.protocol import fitting_iterations, summary_lines
    from bench.planning.selection import Selection, aim, limit_items, load_suites
    from bench.records.merge import open_results
    from bench.running import scheduler

    if not args.baseline and not args.baseline_results:
        raise ValueError("give --baseline METHOD, --baseline-results DIR, or both")
    suites = load_suites(args.suite)
    selection = Selection.from_args(args, suites)
    suite = aim(suites, selection)
    candidate = parse_method(args.candidate)
    baseline = parse_method(args.baseline or args.candidate)
    options = {"synthetic": args.synthetic, "data_root": args.data}
    store = open_results(args.results)  # A,B: several folders read as one (new cells go to the first)
    baseline_store = open_results(args.baseline_results) if args.baseline_results else store
    held = list(store.records())  # where a corpus is missing, the cells are the folder's records
    if args.profile is None:
        from bench.records.from_records import cells_from_records, held_profile

        args.profile = held_profile(suite, cells_from_records(suite, held), store.root)
    candidate_cells = limit_items(cells_for(suite, candidate, args.profile, **options, records=held), selection.limit)
    baseline_held = held if baseline_store is store else list(baseline_store.records())
    baseline_cells = limit_items(cells_for(suite, baseline, args.profile, **options, records=baseline_held),
                                 selection.limit)
    to_run = candidate_cells + ([] if args.baseline_results else baseline_cells)
    todo = scheduler.pending(list({c.key: c for c in to_run}.values()), store)
    print(f"compare on suite {suite.name}: {len(candidate_cells)} candidate and {len(baseline_cells)} baseline "
          f"cells, {len(todo)} to run ({fitting_iterations(todo)} fitting iterations in all); protocol:\n"
          + "\n".join(summary_lines(to_run)), file=sys.stderr)
    scheduler.run(todo, store, data_root=args.data, progress=not args.no_progress, **backend_options(args))
    paired, counts = pairs(candidate_cells, baseline_cells, store, baseline_store)
    if paired.empty:
        raise ValueError("no finished pairs of cells to compare (see the counts of failed and missing cells: "
                         f"{counts})")
    result = Comparison(args.candidate, args.baseline or f"{args.candidate} in {args.baseline_results}",
                        suite.name, args.profile,
                        verdicts(paired, outputs_of(suite), alpha=args.alpha,
                                 tolerance=parse_tolerances(args.tolerance), confidence=args.confidence),
                        counts, args.alpha, args.confidence, paired)
    text = result.markdown()
    print(text)
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:  # appending: a CI job summary file may hold other steps' output
            f.write(text + "\n")
    return EXIT_REGRESSION if result.regression else EXIT_OK
