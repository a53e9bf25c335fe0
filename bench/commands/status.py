"""``bench status``: counts of total, done, failed and pending cells, the training jobs, damaged records."""
from __future__ import annotations

import json

from bench.commands.arguments import add_suite_args, suite_cells
from bench.commands.exit_codes import EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("status", help="counts of total, done, failed and pending cells")
    add_suite_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)


def cmd_status(args) -> int:
    from bench.records.merge import open_results  # A,B: several folders read as one
    from bench.running import train_stage

    suite, cells = suite_cells(args, from_folder=True)
    store = open_results(args.results)
    counts = count_cells(cells, store)
    damaged = store.scan()[1]
    jobs = train_stage.jobs_of(cells)
    counts.update(suite=suite.name, profile=args.profile,
                  damaged=[{"path": str(d.path), "reason": d.reason} for d in damaged],
                  training=[train_stage.describe(job, store.root) for job in jobs])
    if args.json:
        print(json.dumps(counts))
        return EXIT_OK
    print(f"suite {suite.name} (profile {args.profile}): {counts['total']} cells: {counts['done']} done, "
          f"{counts['failed']} failed, {counts['timeout']} timed out, {counts['pending']} pending")
    print_training_jobs(cells, store)
    if damaged:
        print(f"{len(damaged)} damaged records in {store.root} (not counted; `bench run` runs their cells "
              "again; a copy under another name can be deleted):")
        for d in damaged:
            print(f"  {d.path}: {d.reason}")
    return EXIT_OK


def count_cells(cells, store) -> dict:
    counts = {"total": len(cells), "done": 0, "failed": 0, "timeout": 0, "pending": 0}
    for cell in cells:
        status = store.status_of(cell.key)
        if status is None:
            counts["pending"] += 1
        elif status == "ok":
            counts["done"] += 1
        else:
            counts[status] += 1
    return counts


def print_training_jobs(cells, store) -> None:
    """The training jobs the cells need, with their state (status, run --dry-run)."""
    from bench.planning.training_jobs import jobs_root
    from bench.running import train_stage

    jobs = train_stage.jobs_of(cells)
    if jobs:
        print(f"training jobs ({len(jobs)}; each trained once, before its cells; checkpoints in "
              f"{jobs_root(store.root)}):")
        print("\n".join(train_stage.summary_lines(jobs, store.root)))
        pending = [job for job in jobs if not train_stage.is_trained_job_done(job, store.root)]
        costs = [job.estimated_cpu_seconds() for job in pending]
        known = sum(c for c in costs if c is not None)
        print(f"training left: {len(pending)} jobs, about {known / 60:.0f} CPU-minutes by the methods' estimates"
              + (f" ({costs.count(None)} without one)" if None in costs else ""))
