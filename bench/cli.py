"""The ``bench`` command line: list, run, status, report."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

# Further sub-commands live in their own modules, each with ``register(subparsers)`` that adds its parser
# and sets ``handler`` (a function taking the parsed args and returning an exit status).
COMMAND_MODULES: list[str] = ["bench.commands.score", "bench.commands.corrupt", "bench.commands.data",
                              "bench.commands.compare", "bench.commands.check"]

EXIT_OK, EXIT_CELLS_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker; see DESIGN.md on set_num_threads
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    from bench.dataset import CorpusMissing
    from bench.registry import UnknownNameError

    try:
        return args.handler(args)
    except (UnknownNameError, CorpusMissing, ValueError, FileNotFoundError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="Benchmark harness for unsupervised audio restoration.")
    parser.add_argument("--version", action="version", version=f"bench {_version()}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("list", help="list registered methods, datasets, corruptions, metrics or suites")
    p.add_argument("kind", nargs="?", choices=["methods", "datasets", "corruptions", "metrics", "suites"])
    p.add_argument("--details", action="store_true", help="show versions, tasks and parameters")
    p.set_defaults(handler=cmd_list)

    def suite_args(p, results=True):
        p.add_argument("--suite", required=True, help="suite name or path to a suite .toml")
        p.add_argument("--profile", default="paper", choices=["smoke", "quick", "paper"],
                       help="scale items, clip length and iterations (default: paper, as declared)")
        p.add_argument("--synthetic", action="store_true",
                       help="use the synthetic stand-in for every corpus that is missing")
        p.add_argument("--data", help="data root (default: $BENCH_DATA or ~/bench-data)")
        if results:
            p.add_argument("--results", help="results directory (default: $BENCH_RESULTS or ./results)")

    p = sub.add_parser("run", help="run every cell of a suite that has no result yet")
    suite_args(p)
    p.add_argument("--dry-run", action="store_true", help="print the cell grid and the work left; run nothing")
    p.add_argument("--devices", help="cpu, cuda, or a list like cuda:0,cuda:1 (default: all GPUs, else CPU)")
    p.add_argument("--jobs", type=int, help="worker processes per device (default: 1 per GPU, 1 per CPU core)")
    p.add_argument("--backend", default="loky", choices=["loky", "dask", "sequential"],
                   help="loky: local processes; dask: a Dask cluster; sequential: in this process")
    p.add_argument("--compile", action="store_true",
                   help="fit deep priors with torch.compile (tens of seconds per process, repaid over "
                        "thousands of iterations; the time is each record's estimate_info.compile_s)")
    p.add_argument("--scheduler-address", help="Dask scheduler address (default: start a LocalCluster)")
    p.add_argument("--shard", help="run only shard i of n (i/n), for job arrays")
    p.add_argument("--retry-failed", action="store_true", help="run failed and timed-out cells again")
    p.add_argument("--timeout", type=float, help="per-cell time limit in seconds (iterative methods)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-report", action="store_true", help="do not print the table at the end")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("status", help="counts of total, done, failed and pending cells")
    suite_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("report", help="render a suite's tables from its results")
    suite_args(p)
    p.add_argument("--format", default="md", choices=["md", "latex", "csv", "html"],
                   help="html writes a self-contained folder (tables, figures, audio examples)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output "
                   "(html: this folder; default reports/<suite>)")
    p.add_argument("--figures", help="also write the figures (PNG and SVG) to this folder")
    p.add_argument("--examples", type=int, default=4,
                   help="html: items per table with audio players, regenerated by re-running their cells")
    p.add_argument("--device", default="cpu", help="html: device for regenerating the examples' audio")
    p.add_argument("--parquet", help="also export the long results table to this parquet file")
    p.add_argument("--select", choices=["final", "oracle"],
                   help="which iterate the tables show, instead of the suite's choice: the final estimate, or "
                        "each metric's best over the traced iterates")
    p.set_defaults(handler=cmd_report)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def _version() -> str:
    import bench

    return bench.__version__


# -- list -----------------------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from bench.registry import REGISTRIES

    kinds = [args.kind] if args.kind else list(REGISTRIES)
    for kind in kinds:
        print(f"{kind}:")
        for entry in REGISTRIES[kind].entries():
            extra = _list_extra(kind, entry) if args.details else ""
            print(f"  {entry.name:<24} v{entry.version:<4} {entry.description}{extra}")
        print()
    return EXIT_OK


def _list_extra(kind: str, entry) -> str:
    if kind == "methods":
        details = {"tasks": ",".join(entry.meta.get("tasks", ()))}
        try:
            details.update(entry.obj().details())
        except TypeError:
            pass
        return "\n" + "\n".join(f"{'':28}{k}: {v}" for k, v in details.items())
    if kind == "corruptions":
        return f"  [task: {entry.meta.get('task')}]"
    if kind == "metrics":
        outs = ", ".join(f"{o.name} ({o.unit or '-'}, {o.arrow})" for o in entry.obj.outputs)
        return f"  [{outs}]"
    if kind == "datasets":
        return f"  [kind: {entry.meta.get('kind')}]"
    if kind == "suites":
        suite = entry.obj
        return f"  [includes: {', '.join(suite.includes)}]" if suite.includes else ""
    return ""


# -- run / status ---------------------------------------------------------------------------------------
def _cells(args):
    from bench.cells import expand
    from bench.suite import load_suite

    suite = load_suite(args.suite)
    cells = expand(suite, args.profile, synthetic=args.synthetic, data_root=args.data)
    return suite, cells


def _counts(cells, store) -> dict:
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


def cmd_run(args) -> int:
    from bench import scheduler
    from bench.store import ResultsStore

    suite, cells = _cells(args)
    if args.timeout:
        for cell in cells:
            cell.labels["timeout_s"] = args.timeout
    if args.compile:
        os.environ["BENCH_COMPILE"] = "1"  # read by bench.fitting in the workers, which inherit it
    store = ResultsStore(args.results)
    mine = scheduler.shard(cells, scheduler.parse_shard(args.shard))
    todo = scheduler.pending(mine, store, retry_failed=args.retry_failed)
    if args.dry_run:
        _print_grid(suite, mine, todo, store, args)
        return EXIT_OK
    print(f"suite {suite.name} (profile {args.profile}): {len(mine)} cells, {len(mine) - len(todo)} already done, "
          f"{len(todo)} to run; results in {store.root}", file=sys.stderr)
    summary = scheduler.run(todo, store, devices=args.devices, jobs=args.jobs, backend=args.backend,
                            scheduler_address=args.scheduler_address, data_root=args.data,
                            progress=not args.no_progress)
    for key, reason in summary.failures[:20]:
        print(f"  failed {key}: {reason}", file=sys.stderr)
    print(f"ran {summary.ok + summary.failed + summary.timeout} cells: {summary.ok} ok, {summary.failed} failed, "
          f"{summary.timeout} timed out", file=sys.stderr)
    if summary.interrupted:
        print("interrupted: finished cells are saved; run the same command again to finish the rest",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.no_report:
        from bench.report import build_tables, render_markdown

        print(render_markdown(build_tables(suite, cells, store, args.profile)))
    failed_total = sum(1 for c in mine if store.status_of(c.key) not in ("ok", None))
    if failed_total:
        print(f"{failed_total} cells have failed; `bench run ... --retry-failed` runs them again", file=sys.stderr)
        return EXIT_CELLS_FAILED
    return EXIT_OK


def _print_grid(suite, cells, todo, store, args) -> None:
    from collections import Counter

    from bench.scheduler import estimate_seconds

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
    iterations = sum(int(c.config["protocol"].get("iterations") or 0) for c in todo)
    seconds = estimate_seconds(todo, store, cells)
    estimate = (f"about {seconds / 60:.1f} CPU-minutes of cell time (from finished cells)" if seconds is not None
                else "no finished cells to time from")
    print(f"work left: {len(todo)} cells, {iterations} fitting iterations in all; {estimate}")


def cmd_status(args) -> int:
    from bench.store import ResultsStore

    suite, cells = _cells(args)
    counts = _counts(cells, ResultsStore(args.results))
    counts.update(suite=suite.name, profile=args.profile)
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"suite {suite.name} (profile {args.profile}): {counts['total']} cells: {counts['done']} done, "
              f"{counts['failed']} failed, {counts['timeout']} timed out, {counts['pending']} pending")
    return EXIT_OK


def cmd_report(args) -> int:
    from bench.report import RENDERERS, build_tables
    from bench.store import ResultsStore

    suite, cells = _cells(args)
    store = ResultsStore(args.results)
    tables = build_tables(suite, cells, store, args.profile, select=args.select)
    if args.figures:
        from bench.figures import write_figures

        for path in write_figures(tables, cells, store, args.figures):
            print(f"wrote {path}", file=sys.stderr)
    if args.format == "html":
        from bench.html_report import write_report

        folder = Path(args.output or Path("reports") / suite.name)
        index = write_report(tables, cells, store, folder, examples=args.examples, data_root=args.data,
                             device=args.device)
        print(f"wrote {index}", file=sys.stderr)
        return EXIT_OK
    text = RENDERERS[args.format](tables)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    if args.parquet:
        store.export_parquet(args.parquet, [c.key for c in cells], {c.key: c.labels for c in cells})
        print(f"wrote {args.parquet}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
