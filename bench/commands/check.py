"""``bench check``: re-run the golden suites and compare with the committed golden numbers (exit 1 if they
differ); ``bench check --update`` rewrites the numbers on purpose."""
from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("check", help="re-run the golden suites and compare with the committed numbers",
                              description="Runs every suite of results/golden/ (*.toml) from scratch on the CPU and "
                                          "compares every score with results/golden/numbers.csv.")
    p.add_argument("--update", action="store_true",
                   help="rewrite the golden numbers from this run (when a change is meant to alter them)")
    p.add_argument("--golden", help="folder with the golden suites (*.toml) and numbers.csv (default: results/golden)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for the cells and trainings (default 1; the tolerances cover 1 and 2)")
    p.add_argument("--data", help="data root (default: $BENCH_DATA or ~/bench-data)")
    p.set_defaults(handler=cmd_check)


def cmd_check(args) -> int:
    from bench.analysis import golden

    folder = Path(args.golden) if args.golden else golden.GOLDEN_DIR
    current, failed = golden.run_golden(folder, args.data, threads=args.threads)
    if failed:
        print(f"bench check: {len(failed)} golden cells failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if args.update:
        path = golden.write_numbers(current, folder)
        print(f"wrote {len(current)} golden numbers to {path}; commit it with the change that explains it")
        return 0
    result = golden.compare(current, golden.read_numbers(folder), failed)
    if result.ok:
        print(f"bench check: {result.compared} golden numbers match (each within its family's tolerance, "
              f"results/golden/README.md)")
        return 0
    print(f"bench check: golden numbers differ ({len(result.mismatches)} of {result.compared} values, "
          f"{len(result.missing)} missing, {len(result.extra)} new)")
    if not result.mismatches.empty:
        print(result.mismatches.to_string(index=False, max_rows=40))
    for label, rows in (("missing", result.missing), ("new", result.extra)):
        for row in rows[:20]:
            print(f"  {label}: {row}")
    print("If the change is intended, run `bench check --update` and commit results/golden/numbers.csv.")
    return 1
