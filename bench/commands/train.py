"""``bench train``: run only the training jobs of a suite's trained methods; ``bench checkpoints``: list the
trained and partly trained jobs of a results folder."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.commands.arguments import add_suite_args, suite_cells
from bench.commands.exit_codes import EXIT_CELLS_FAILED, EXIT_INTERRUPTED, EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="run only the training jobs of a suite's trained methods (resumable)")
    add_suite_args(p)
    p.add_argument("--dry-run", action="store_true", help="list the training jobs and their state; train nothing")
    p.add_argument("--devices", help="cpu, cuda, or a list like cuda:0,cuda:1 (one job per device at a time)")
    p.add_argument("--backend", default="processes", choices=["processes", "sequential"],
                   help="sequential: train in this process (for debugging)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=cmd_train)

    p = subparsers.add_parser("checkpoints", help="list the training jobs (checkpoints) of a results folder")
    p.add_argument("--results", help="results directory (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_checkpoints)


def cmd_train(args) -> int:
    from bench.records.store import ResultsStore, check_writable
    from bench.running import train_stage

    suite, cells = suite_cells(args)
    store = ResultsStore(args.results)
    jobs = train_stage.jobs_of(cells)
    if not jobs:
        print(f"suite {suite.name} has no trained method: nothing to train", file=sys.stderr)
        return EXIT_OK
    if args.dry_run:
        print(f"suite {suite.name}, profile {args.profile}: {len(jobs)} training jobs")
        print("\n".join(train_stage.summary_lines(jobs, store.root)))
        return EXIT_OK
    check_writable(store.root)
    try:
        states = train_stage.train(jobs, store.root, devices=args.devices, data_root=args.data,
                                   backend="sequential" if args.backend == "sequential" else "processes",
                                   progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: finished epochs are saved; the same command resumes each job from its last epoch",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print("\n".join(train_stage.summary_lines(jobs, store.root)))
    failed = [key for key, state in states.items() if state["state"] != "done"]
    return EXIT_CELLS_FAILED if failed else EXIT_OK


def cmd_checkpoints(args) -> int:
    from bench.planning.training_jobs import JOB_FILE, jobs_in, jobs_root
    from bench.records.store import ResultsStore
    from bench.running.train_stage import describe

    results = ResultsStore(args.results).root
    root = jobs_root(results)
    rows = []
    for folder, job in jobs_in(results):
        if job is None:
            rows.append({"key": folder.path.name, "method": None, "seed": None, "state": f"unreadable {JOB_FILE}",
                         "epochs_done": 0, "epochs": None, "final_loss": None, "stopped_early": None,
                         "folder": str(folder.path)})
        else:
            rows.append(describe(job, results))
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    if not rows:
        print(f"no training jobs in {root}")
        return EXIT_OK
    for r in rows:
        loss = f"{r['final_loss']:.4g}" if isinstance(r["final_loss"], float) else "-"
        print(f"{r['key'][:12]}  {r['method'] or '?':<28} seed {r['seed']!s:<3} {r['state']:<11} "
              f"epoch {r['epochs_done']}/{r['epochs']}{' stopped early' if r['stopped_early'] else ''}  loss {loss}  "
              f"{Path(r['folder'])}")
    return EXIT_OK
