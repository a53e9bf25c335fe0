"""``bench run``: run every cell of a suite that has no result yet (its training jobs first), then print
the tables; ``--dry-run`` prints the grid and the work left."""
from __future__ import annotations

import os
import sys

from bench.commands.arguments import add_backend_args, add_suite_args, backend_options, suite_cells
from bench.commands.exit_codes import EXIT_CELLS_FAILED, EXIT_INTERRUPTED, EXIT_OK
from bench.commands.status import print_training_jobs


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run every cell of a suite that has no result yet")
    add_suite_args(p)
    p.add_argument("--dry-run", action="store_true", help="print the cell grid and the work left; run nothing")
    add_backend_args(p)
    p.add_argument("--compile", action="store_true",
                   help="fit deep priors with torch.compile (tens of seconds per process, repaid over "
                        "thousands of iterations where compiled code is faster; the time is each record's "
                        "estimate_info.compile_s); batched GPU fits stay eager (torch 2.13 miscompiles them)")
    p.add_argument("--shard", help="run only shard i of n (i/n, 1 <= i <= n, as SLURM numbers array tasks), "
                                   "or slurm: read the shard from $SLURM_ARRAY_TASK_ID and _COUNT")
    p.add_argument("--retry-failed", action="store_true", help="run failed and timed-out cells again")
    p.add_argument("--timeout", type=float, help="per-cell time limit in seconds; a cell that passes it is "
                   "stopped (at its next progress report, or by killing its worker) and recorded as timeout")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-report", action="store_true", help="do not print the table at the end")
    p.set_defaults(handler=cmd_run)


def cmd_run(args) -> int:
    from bench.records.store import ResultsStore, check_writable
    from bench.running import scheduler

    if args.timeout is not None and args.timeout <= 0:
        raise ValueError(f"--timeout {args.timeout:g}: a time limit must be positive")
    backend = backend_options(args)
    shard = scheduler.parse_shard(args.shard)
    if args.compile:
        os.environ["BENCH_COMPILE"] = "1"  # read by bench.components.fitting in the workers, which inherit it, and the key
    from bench.running.devices import visible_gpus

    # a fitted prior's precision is chosen (and keyed) for the kind of device its cells run on (a Slurm run
    # planned on a login node without GPUs: set BENCH_PLAN_DEVICE=cuda there)
    if "BENCH_PLAN_DEVICE" not in os.environ:
        gpus = "cuda" in (args.devices or "") or (args.devices in (None, "", "auto") and visible_gpus())
        os.environ["BENCH_PLAN_DEVICE"] = "cuda" if gpus else "cpu"
    suite, cells = suite_cells(args)
    if args.timeout:
        for cell in cells:
            cell.run_options["timeout_s"] = args.timeout
    store = ResultsStore(args.results)
    if not args.dry_run:
        check_writable(store.root)
    mine = scheduler.shard(cells, shard)
    todo = scheduler.pending(mine, store, retry_failed=args.retry_failed)
    if args.dry_run:
        _print_grid(suite, mine, todo, store, args)
        return EXIT_OK
    print(f"suite {suite.name} (profile {args.profile}): {len(mine)} cells, {len(mine) - len(todo)} already done, "
          f"{len(todo)} to run; results in {store.root}", file=sys.stderr)
    summary = scheduler.run(todo, store, data_root=args.data, progress=not args.no_progress, **backend)
    for key, reason in summary.failures[:20]:
        print(f"  {key}: {reason}", file=sys.stderr)
    print(f"ran {summary.ok + summary.failed + summary.timeout} cells: {summary.ok} ok, {summary.failed} failed, "
          f"{summary.timeout} timed out", file=sys.stderr)
    if summary.interrupted:
        print("interrupted: finished cells are saved; run the same command again to finish the rest",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.no_report:
        from bench.reporting.markdown import render_markdown
        from bench.reporting.tables import build_tables

        print(render_markdown(build_tables(suite, cells, store, args.profile)))
    failed_total = sum(1 for c in mine if store.status_of(c.key) not in ("ok", None))
    if failed_total:
        print(f"{failed_total} cells have failed or timed out; `bench run ... --retry-failed` runs them again",
              file=sys.stderr)
        return EXIT_CELLS_FAILED
    return EXIT_OK


def _print_grid(suite, cells, todo, store, args) -> None:
    from collections import Counter

    from bench.core.protocol import fitting_iterations, summary_lines
    from bench.running.scheduler import estimate_seconds

    grid = Counter((c.labels["suite"], c.labels["method"], c.labels["dataset"], c.labels["corruption"])
                   for c in cells)
    left = Counter((c.labels["suite"], c.labels["method"], c.labels["dataset"], c.labels["corruption"])
                   for c in todo)
    print(f"suite {suite.name}, profile {args.profile}: {len(cells)} cells, {len(cells) - len(todo)} done, "
          f"{len(todo)} to run")
    print(f"{'table':<28} {'method':<24} {'dataset':<24} {'corruption':<26} {'cells':>5} {'to run':>6}")
    for (table, method, dataset, corruption), n in grid.items():
        print(f"{table:<28} {method:<24} {dataset:<24} {corruption:<26} {n:>5} "
              f"{left.get((table, method, dataset, corruption), 0):>6}")
    print("protocol per method (the suite's, the method's defaults, the profile's scaling):")
    print("\n".join(summary_lines(cells)))
    print_training_jobs(cells, store)
    iterations = fitting_iterations(todo)
    seconds = estimate_seconds(todo, store, cells)
    estimate = (f"about {seconds / 60:.1f} CPU-minutes of cell time (from finished cells)" if seconds is not None
                else "no finished cells to time from")
    print(f"work left: {len(todo)} cells, {iterations} fitting iterations in all; {estimate}")
