"""The flags several commands share, and what they mean: the suite and its selection, the backend."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.planning.selection import add_selection_args

PROFILE_NAMES = ("smoke", "quick", "cpu", "paper")  # bench.planning.suite.PROFILES' names (not imported at start-up)

__all__ = ["PROFILE_NAMES", "add_suite_args", "add_selection_args", "add_backend_args", "backend_options", "selection_rule",
           "suite_cells"]


def add_suite_args(p, results: bool = True) -> None:
    """The suite, profile, data and results flags with the selection flags (run, train, status, report)."""
    p.add_argument("--suite", required=True, help="suite name or path to a suite .toml (a,b: several)")
    p.add_argument("--profile", choices=PROFILE_NAMES,
                   help="scale items, clip length and iterations (run: default paper, as declared; "
                        "status/report: default the profile the results folder holds)")
    p.add_argument("--synthetic", action="store_true",
                   help="use the synthetic stand-in for every corpus that is missing")
    p.add_argument("--data", help="data root (default: $BENCH_DATA or ~/bench-data)")
    if results:
        p.add_argument("--results", help="results directory (default: $BENCH_RESULTS or ./results); status "
                                         "and report: A,B,... reads several folders as one")
    add_selection_args(p, add_method=True)


def suite_cells(args, from_folder: bool = False):
    """The suite and its cells the flags of ``add_suite_args`` ask for. ``from_folder`` (status, report): the
    profile and stand-ins default to what the results folder holds, and where a corpus is missing the cells
    are the folder's records alone."""
    from bench.components.dataset import CorpusMissing
    from bench.planning.cells import expand
    from bench.planning.selection import Selection, aim, limit_items, load_suites

    suites = load_suites(args.suite)
    selection = Selection.from_args(args, suites)
    suite = aim(suites, selection)
    if not from_folder:
        args.profile = args.profile or "paper"
        cells = expand(suite, args.profile, synthetic=args.synthetic, data_root=args.data)
        return suite, limit_items(cells, selection.limit)
    from bench.records.from_records import cells_from_records, held_profile
    from bench.records.merge import open_results  # A,B: several folders read as one

    store = open_results(args.results)
    held = cells_from_records(suite, store.records(), args.profile)
    args.profile = args.profile or held_profile(suite, held, store.root)
    synthetic = args.synthetic or any(c.dataset.get("standin_for") for c in held)
    try:
        cells = expand(suite, args.profile, synthetic=synthetic, data_root=args.data)
    except CorpusMissing as exc:
        print(f"bench: {str(exc).splitlines()[0]}; showing the {len(held)} records in {store.root} alone (cells never run cannot "
              "be counted as missing)", file=sys.stderr)
        cells = held
    return suite, limit_items(held_precisions(cells, held, store), selection.limit)


def held_precisions(cells, held, store):
    """Each cell this machine would run, or where the folder has no record of it but one of the same cell run
    in another precision configuration (planned on another machine: bench.components.precision_probe), that record's."""
    from bench.core.keys import canonical_json

    def unkeyed(cell) -> str:
        return canonical_json({k: v for k, v in cell.config.items() if k != "precision"})
    elsewhere = {}
    for cell in sorted(held, key=lambda c: c.key):
        elsewhere.setdefault(unkeyed(cell), cell)
    return [cell if store.status_of(cell.key) is not None or "precision" not in cell.config
            else elsewhere.get(unkeyed(cell), cell) for cell in cells]


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
    from bench.running.devices import device_pool, runs_here

    device_pool(args.devices, runs_here(args.backend, args.scheduler_address))  # an error now, not mid-run
    return {"devices": args.devices, "jobs": args.jobs, "backend": args.backend,
            "scheduler_address": args.scheduler_address, "slurm": _slurm_options(args)}


def _slurm_options(args):
    from bench.running.submitit_backend import SlurmOptions

    if args.slurm_time < 1:
        raise ValueError(f"--slurm-time {args.slurm_time}: a time limit is at least 1 minute")
    if args.slurm_gpus_per_task < 0:
        raise ValueError(f"--slurm-gpus-per-task {args.slurm_gpus_per_task}: cannot be negative")
    return SlurmOptions(partition=args.slurm_partition, time_min=args.slurm_time,
                        gpus_per_task=args.slurm_gpus_per_task, logs=args.slurm_logs, max_parallel=args.jobs)


def selection_rule(text: str) -> str:
    """``--select RULE``, checked as argparse parses it."""
    from bench.analysis.rules import parse_rule

    try:
        return parse_rule(text, where="--select")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
