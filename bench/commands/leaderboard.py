"""``bench leaderboard``: every method that ran on a task, ranked across the suites of the results folders."""
from __future__ import annotations

from bench.commands.arguments import PROFILE_NAMES

FORMATS = ("md", "json", "html")


def register(subparsers) -> None:
    p = subparsers.add_parser("leaderboard", help="rank every method per task across suites (blind rule by default)")
    p.add_argument("--results", help="results directory, or A,B,... read as one (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--profile", choices=PROFILE_NAMES, help="only records of this profile")
    p.add_argument("--task", action="append", help="only this task (repeatable)")
    p.add_argument("--rank-by", default="blind", choices=["blind", "oracle", "final"],
                   help="what is ranked: each method's best blind stopping rule (default), its oracle iterate, "
                        "or its final iterate")
    p.add_argument("--add-method", action="append", default=[],
                   help="a candidate NAME[k=v,...] whose records are in the folders (run it first with "
                        "`bench run --suite S --add-method ...`): says where it would rank")
    p.add_argument("--format", default="md", choices=FORMATS)
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the position intervals")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(handler=cmd_leaderboard)


def cmd_leaderboard(args) -> int:
    from bench.analysis import leaderboard
    from bench.analysis.compare import parse_method
    from bench.commands.text_output import emit
    from bench.records.merge import existing_roots, open_results

    roots = existing_roots(args.results)
    if args.resamples < 1:
        raise ValueError(f"--resamples {args.resamples}: need at least 1")
    boards = leaderboard.boards(list(open_results(args.results).records()), args.profile, args.resamples,
                                args.rank_by)
    if args.task:
        unknown = [t for t in args.task if t not in leaderboard.TASKS]
        if unknown:
            raise ValueError(f"--task {unknown[0]}: tasks are {', '.join(leaderboard.TASKS)}")
        boards = [b for b in boards if b.task in args.task]
    if not boards:
        raise ValueError(f"no finished cells with input scores in {', '.join(map(str, roots))}")
    where = ", ".join(map(str, roots))
    text = {"md": leaderboard.markdown, "json": leaderboard.as_json}.get(args.format)
    text = text(boards) if text else leaderboard.html_page(boards, where)
    lines = []
    for candidate in args.add_method:
        spec = leaderboard.method_spec({"name": (m := parse_method(candidate)).name, "params": m.params})
        found = [line for board in boards if (line := leaderboard.candidate_line(board, spec))]
        if not found:
            raise ValueError(f"--add-method {candidate}: no finished records of it in {where}; run it first, "
                             f"e.g. bench run --suite smoke --add-method '{candidate}'")
        lines += found
    emit(text, args.output)
    for line in lines:
        print(line)
    return 0
