"""The ``bench`` command line: list, run, status, report."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

PROFILE_NAMES = ("smoke", "quick", "cpu", "paper")  # bench.suite.PROFILES' names (not imported at start-up)

# Further sub-commands live in their own modules, each with ``register(subparsers)`` that adds its parser
# and sets ``handler`` (a function taking the parsed args and returning an exit status).
COMMAND_MODULES: list[str] = ["bench.commands.score", "bench.commands.corrupt", "bench.commands.data",
                              "bench.commands.compare", "bench.commands.check", "bench.commands.train"]

# Exit statuses a script can rely on (README, "Exit codes").
EXIT_OK, EXIT_CELLS_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler's stop, ``kill``): handled as Ctrl-C is, so workers stop and records stay."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker process: the scheduler runs one per core
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    from bench.dataset import CorpusMissing
    from bench.registry import UnknownNameError

    previous = _on_sigterm(_terminate)
    try:
        return args.handler(args)
    except BrokenPipeError:  # `bench report ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail
        return EXIT_OK
    except (UnknownNameError, CorpusMissing, ValueError, FileNotFoundError) as exc:
        return _error(args, exc, EXIT_USAGE)
    except OSError as exc:  # the machine, not the input: a results folder not writable, a full disk
        return _error(args, exc, EXIT_ENVIRONMENT)
    except KeyboardInterrupt as exc:
        print(f"bench: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: one line, and the traceback with --debug
        return _error(args, exc, EXIT_INTERNAL, f"unexpected {type(exc).__name__}: ")
    finally:
        _on_sigterm(previous)


def _on_sigterm(handler):
    """Install a SIGTERM handler; returns the previous one (None off the main thread, where it cannot be set)."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _error(args, exc: BaseException, code: int, prefix: str = "") -> int:
    if args.debug:
        traceback.print_exception(exc)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    hint = "" if args.debug else " (bench --debug ... shows the traceback)" if code == EXIT_INTERNAL else ""
    print(f"bench: error: {prefix}{message}{hint}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    from bench.selection import add_selection_args

    parser = argparse.ArgumentParser(prog="bench", description="Benchmark harness for unsupervised audio restoration.")
    parser.add_argument("--version", action="version", version=f"bench {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("list", help="list registered methods, datasets, corruptions, metrics or suites")
    p.add_argument("kind", nargs="?", choices=["methods", "datasets", "corruptions", "metrics", "suites"])
    p.add_argument("--details", action="store_true", help="show versions, tasks and parameters")
    p.add_argument("--json", action="store_true", help="as JSON: {kind: [{name, version, description}]}")
    p.set_defaults(handler=cmd_list)

    def suite_args(p, results=True):
        p.add_argument("--suite", required=True, help="suite name or path to a suite .toml (a,b: several)")
        p.add_argument("--profile", choices=PROFILE_NAMES,
                       help="scale items, clip length and iterations (run: default paper, as declared; "
                            "status/report: default the profile the results folder holds)")
        p.add_argument("--synthetic", action="store_true",
                       help="use the synthetic stand-in for every corpus that is missing")
        p.add_argument("--data", help="data root (default: $BENCH_DATA or ~/bench-data)")
        if results:
            p.add_argument("--results", help="results directory (default: $BENCH_RESULTS or ./results)")
        add_selection_args(p, add_method=True)

    p = sub.add_parser("run", help="run every cell of a suite that has no result yet")
    suite_args(p)
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

    p = sub.add_parser("train", help="run only the training jobs of a suite's trained methods (resumable)")
    suite_args(p)
    p.add_argument("--dry-run", action="store_true", help="list the training jobs and their state; train nothing")
    p.add_argument("--devices", help="cpu, cuda, or a list like cuda:0,cuda:1 (one job per device at a time)")
    p.add_argument("--backend", default="processes", choices=["processes", "sequential"],
                   help="sequential: train in this process (for debugging)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=lambda args: importlib.import_module("bench.commands.train").cmd_train(args))

    p = sub.add_parser("status", help="counts of total, done, failed and pending cells")
    suite_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("report", help="render a suite's tables from its results")
    suite_args(p)
    p.add_argument("--format", default="md", choices=["md", "latex", "csv", "html", "json"],
                   help="html writes a self-contained folder (tables, figures, audio examples)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output "
                   "(html: this folder; default reports/<suite>)")
    p.add_argument("--figures", help="also write the figures (PNG and SVG) to this folder")
    p.add_argument("--examples", type=int, default=4,
                   help="html: items per table with audio players, regenerated by re-running their cells")
    p.add_argument("--device", default="cpu", help="html: device for regenerating the examples' audio")
    p.add_argument("--parquet", help="also export the long results table to this parquet file")
    p.add_argument("--select", type=_selection_rule, metavar="RULE",
                   help="which iterate the tables show, instead of the suite's rule: final, oracle:each (each "
                        "metric's own best traced iterate), oracle:OUTPUT (every metric at the iterate best by "
                        "OUTPUT, e.g. oracle:snr) or blind:wmv|plateau|discrepancy|holdout (README: selection rules)")
    p.set_defaults(handler=cmd_report)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def _selection_rule(text: str) -> str:
    from bench.rules import parse_rule

    try:
        return parse_rule(text, where="--select")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    import bench

    return bench.__version__


# -- list -----------------------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from bench.registry import REGISTRIES

    kinds = [args.kind] if args.kind else list(REGISTRIES)
    if not args.details:
        from bench.listing import listing

        listed = listing(kinds)
        if args.json:
            print(json.dumps(listed, indent=2, ensure_ascii=False))
            return EXIT_OK
        for kind, rows in listed.items():
            print(f"{kind}:")
            for row in rows:
                print(f"  {row['name']:<24} v{row['version']:<4} {row['description']}")
            print()
        return EXIT_OK
    if args.json:
        print(json.dumps({kind: [{"name": e.name, "version": e.version, "description": e.description,
                                  **{k: v for k, v in e.meta.items() if k in ("tasks", "task", "kind")}}
                                 for e in REGISTRIES[kind].entries()] for kind in kinds}, indent=2,
                         ensure_ascii=False))
        return EXIT_OK
    for kind in kinds:
        print(f"{kind}:")
        for entry in REGISTRIES[kind].entries():
            print(f"  {entry.name:<24} v{entry.version:<4} {entry.description}{_list_extra(kind, entry)}")
        print()
    return EXIT_OK


def _suite_variant_details(entry) -> dict:
    """The method's details (e.g. N_P) for each parameter set a registered suite runs it with:
    "<suite>: <label>" -> its details."""
    from bench.method import build_method
    from bench.suite import SUITES

    out = {}
    for name in SUITES.names():
        for method in SUITES.get(name).obj.methods:
            if method.name != entry.name or not method.params:
                continue
            try:
                details = build_method(method.name, method.params).details()
            except (TypeError, ValueError):
                continue
            if details:
                out[f"{name}: {method.label}"] = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                          for k, v in details.items())
    return out


def _list_extra(kind: str, entry) -> str:
    if kind == "methods":
        details = {"tasks": ",".join(entry.meta.get("tasks", ()))}
        try:
            details.update(entry.obj().details())
        except TypeError:
            pass
        details.update(_suite_variant_details(entry))
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
def _cells(args, from_folder: bool = False):
    """The suite and its cells. ``from_folder`` (status, report): the profile and stand-ins default to what
    the results folder holds, and where a corpus is missing the cells are the folder's records alone."""
    from bench.cells import expand
    from bench.dataset import CorpusMissing
    from bench.selection import Selection, aim, limit_items, load_suites

    suites = load_suites(args.suite)
    selection = Selection.from_args(args, suites)
    suite = aim(suites, selection)
    if not from_folder:
        args.profile = args.profile or "paper"
        cells = expand(suite, args.profile, synthetic=args.synthetic, data_root=args.data)
        return suite, limit_items(cells, selection.limit)
    from bench.from_records import cells_from_records, held_profile
    from bench.store import ResultsStore

    store = ResultsStore(args.results)
    held = cells_from_records(suite, store.records(), args.profile)
    args.profile = args.profile or held_profile(suite, held, store.root)
    synthetic = args.synthetic or any(c.dataset.get("standin_for") for c in held)
    try:
        cells = expand(suite, args.profile, synthetic=synthetic, data_root=args.data)
    except CorpusMissing as exc:
        print(f"bench: {str(exc).splitlines()[0]}; showing the {len(held)} records in {store.root} alone (cells never run cannot "
              "be counted as missing)", file=sys.stderr)
        cells = held
    return suite, limit_items(cells, selection.limit)


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

    if args.timeout is not None and args.timeout <= 0:
        raise ValueError(f"--timeout {args.timeout:g}: a time limit must be positive")
    backend = backend_options(args)
    shard = scheduler.parse_shard(args.shard)
    suite, cells = _cells(args)
    if args.timeout:
        for cell in cells:
            cell.labels["timeout_s"] = args.timeout
    if args.compile:
        os.environ["BENCH_COMPILE"] = "1"  # read by bench.fitting in the workers, which inherit it
    store = ResultsStore(args.results)
    if not args.dry_run:
        _check_writable(store.root)
    mine = scheduler.shard(cells, shard)
    todo = scheduler.pending(mine, store, retry_failed=args.retry_failed)
    if args.dry_run:
        _print_grid(suite, mine, todo, store, args)
        return EXIT_OK
    print(f"suite {suite.name} (profile {args.profile}): {len(mine)} cells, {len(mine) - len(todo)} already done, "
          f"{len(todo)} to run; results in {store.root}", file=sys.stderr)
    summary = scheduler.run(todo, store, data_root=args.data, progress=not args.no_progress, **backend)
    for key, reason in summary.failures[:20]:
        print(f"  failed {key}: {reason}", file=sys.stderr)
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
        print(f"{failed_total} cells have failed; `bench run ... --retry-failed` runs them again", file=sys.stderr)
        return EXIT_CELLS_FAILED
    return EXIT_OK


def _check_writable(root: Path) -> None:
    """Fail before any cell runs if the results folder cannot take records (raises OSError naming it)."""
    import errno
    import tempfile

    if root.exists() and not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "--results is not a folder", str(root))
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise OSError(exc.errno, f"results folder not writable ({exc.strerror})", str(root)) from None


def add_backend_args(p) -> None:
    """Where and how cells run: the devices, worker count and backend with its options (run, compare)."""
    p.add_argument("--devices", help="cpu, cuda, or a list like cuda:0,cuda:1 (default: all GPUs, else CPU)")
    p.add_argument("--jobs", type=int, help="worker processes per device (default: 1 per GPU, 1 per CPU core)")
    p.add_argument("--backend", default="processes",
                   choices=["processes", "loky", "dask", "submitit", "submitit-local", "sequential"],
                   help="processes (or its old name loky): worker processes here; dask: a Dask cluster; "
                        "submitit: SLURM job arrays (submitit-local: the same jobs as local processes); "
                        "sequential: in this process, for debugging (a crashing method ends the run)")
    p.add_argument("--slurm-partition", help="--backend submitit: the SLURM partition")
    p.add_argument("--slurm-time", type=int, default=60, metavar="MINUTES",
                   help="--backend submitit: time limit of each array task (one batch of cells; default 60)")
    p.add_argument("--slurm-gpus-per-task", type=int, default=0, metavar="N",
                   help="--backend submitit: GPUs per array task (default 0: the cells run on the CPU)")
    p.add_argument("--slurm-logs", type=Path, metavar="DIR",
                   help="--backend submitit: folder for submitit's job files and logs (default RESULTS/submitit)")
    p.add_argument("--scheduler-address", help="Dask scheduler address (default: start a LocalCluster)")


def backend_options(args) -> dict:
    """``scheduler.run``'s keyword arguments for the flags of ``add_backend_args``."""
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs}: need at least one worker process per device")
    return {"devices": args.devices, "jobs": args.jobs, "backend": args.backend,
            "scheduler_address": args.scheduler_address, "slurm": _slurm_options(args)}


def _slurm_options(args):
    from bench.submitit_backend import SlurmOptions

    if args.slurm_time < 1:
        raise ValueError(f"--slurm-time {args.slurm_time}: a time limit is at least 1 minute")
    if args.slurm_gpus_per_task < 0:
        raise ValueError(f"--slurm-gpus-per-task {args.slurm_gpus_per_task}: cannot be negative")
    return SlurmOptions(partition=args.slurm_partition, time_min=args.slurm_time,
                        gpus_per_task=args.slurm_gpus_per_task, logs=args.slurm_logs, max_parallel=args.jobs)


def _print_grid(suite, cells, todo, store, args) -> None:
    from collections import Counter

    from bench.protocol import fitting_iterations, summary_lines
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
    print("protocol per method (the suite's, the method's defaults, the profile's scaling):")
    print("\n".join(summary_lines(cells)))
    _print_training(cells, store)
    iterations = fitting_iterations(todo)
    seconds = estimate_seconds(todo, store, cells)
    estimate = (f"about {seconds / 60:.1f} CPU-minutes of cell time (from finished cells)" if seconds is not None
                else "no finished cells to time from")
    print(f"work left: {len(todo)} cells, {iterations} fitting iterations in all; {estimate}")


def _print_training(cells, store) -> None:
    from bench import train_stage
    from bench.training_jobs import jobs_root

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


def cmd_status(args) -> int:
    from bench.store import ResultsStore

    suite, cells = _cells(args, from_folder=True)
    store = ResultsStore(args.results)
    counts = _counts(cells, store)
    damaged = store.scan()[1]
    from bench import train_stage

    jobs = train_stage.jobs_of(cells)
    counts.update(suite=suite.name, profile=args.profile,
                  damaged=[{"path": str(d.path), "reason": d.reason} for d in damaged],
                  training=[train_stage.describe(job, store.root) for job in jobs])
    if args.json:
        print(json.dumps(counts))
        return EXIT_OK
    print(f"suite {suite.name} (profile {args.profile}): {counts['total']} cells: {counts['done']} done, "
          f"{counts['failed']} failed, {counts['timeout']} timed out, {counts['pending']} pending")
    _print_training(cells, store)
    if damaged:
        print(f"{len(damaged)} damaged records in {store.root} (not counted; `bench run` runs their cells "
              "again; a copy under another name can be deleted):")
        for d in damaged:
            print(f"  {d.path}: {d.reason}")
    return EXIT_OK


def cmd_report(args) -> int:
    from bench.reporting.formats import RENDERERS
    from bench.reporting.tables import build_tables
    from bench.store import ResultsStore

    suite, cells = _cells(args, from_folder=True)
    store = ResultsStore(args.results)
    tables = build_tables(suite, cells, store, args.profile, select=args.select)
    if args.figures:
        from bench.reporting.figures import write_figures

        for path in write_figures(tables, cells, store, args.figures):
            print(f"wrote {path}", file=sys.stderr)
    if args.format == "html":
        from bench.reporting.html_folder import write_report
        from bench.reporting.paths import safe_name

        folder = Path(args.output or Path("reports") / safe_name(suite.name))
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
