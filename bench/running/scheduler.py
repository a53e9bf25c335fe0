"""The scheduler: decide which cells still need running, and run them on a pool of devices.

Locally, ``jobs`` worker processes per device (``bench.running.worker_pool``, also for ``jobs=1``); each keeps its
device for its life, setting ``CUDA_VISIBLE_DEVICES`` before CUDA initialises, and a worker that crashes,
hangs past the time limit or outlives the run is stopped by this process. With ``backend="dask"`` the same
cells go to a Dask distributed cluster through joblib's backend switch; ``backend="sequential"`` runs them
in this process (a method's crash then ends the run: for debugging); ``backend="submitit"`` sends them
as SLURM job arrays (``bench.running.submitit_backend``). ``bench.running.dispatch`` runs them on each backend, as it runs
the training stage's jobs.
Records are written by this process as results arrive, so an interrupted run loses only cells in flight,
and a rerun dispatches only the cells without a record.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from bench.core.progress import ProgressBoard, progress_bar, watch
from bench.planning.cells import Cell
from bench.records.record import lost as lost_record
from bench.records.store import ResultsStore
from bench.running.devices import default_jobs, device_pool, pin, pinned_device, runs_here, visible_gpus  # noqa: F401 - visible_gpus: old import path
from bench.running.dispatch import CLAIM_AS_DISPATCHED, dispatch
from bench.running.worker import run_cells


@dataclass
class RunSummary:
    total: int = 0
    cached: int = 0
    dispatched: int = 0
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    interrupted: bool = False
    elsewhere: int = 0  # cells another bench run on the same folder was running, and finished
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key, "failed: reason" or "timeout: ...")

    @property
    def any_failed(self) -> bool:
        return self.failed + self.timeout > 0


# -- planning -------------------------------------------------------------------------------------------
def parse_shard(text: str | None, environ=os.environ) -> tuple[int, int] | None:
    """``--shard i/n`` with 1 <= i <= n, numbered as SLURM numbers array tasks; ``--shard slurm`` reads
    SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (or the array's MIN and MAX). Returns (i - 1, n)."""
    if not text:
        return None
    if text == "slurm":
        return _slurm_shard(environ)
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/n counting from 1 (for example 1/4), or slurm; not {text!r}") from None
    if count < 1 or not 1 <= index <= count:
        hint = "; shards count from 1, as SLURM array tasks do" if index == 0 else ""
        raise ValueError(f"--shard {text}: need 1 <= i <= n{hint}")
    return index - 1, count


def _slurm_shard(environ) -> tuple[int, int]:
    try:
        task, first = int(environ["SLURM_ARRAY_TASK_ID"]), int(environ.get("SLURM_ARRAY_TASK_MIN", 1))
        step = int(environ.get("SLURM_ARRAY_TASK_STEP", 1))
        if "SLURM_ARRAY_TASK_COUNT" in environ:
            count = int(environ["SLURM_ARRAY_TASK_COUNT"])
        else:
            count = (int(environ["SLURM_ARRAY_TASK_MAX"]) - first) // step + 1
    except (KeyError, ValueError):
        raise ValueError("--shard slurm: needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (or _MIN and "
                         "_MAX), as sbatch --array sets them") from None
    index, off_step = divmod(task - first, step)
    if off_step or not 0 <= index < count:
        raise ValueError(f"--shard slurm: array task {task} is not one of the {count} tasks from {first} "
                         f"in steps of {step}")
    return index, count


def shard(cells: list[Cell], spec: tuple[int, int] | None) -> list[Cell]:
    """The cells of shard i of n: a stable split by key, the same whatever is cached."""
    if spec is None:
        return cells
    index, count = spec
    ordered = sorted(cells, key=lambda c: c.key)
    return [c for position, c in enumerate(ordered) if position % count == index]


def pending(cells: Iterable[Cell], store: ResultsStore, retry_failed: bool = False) -> list[Cell]:
    """Cells with no record; with ``retry_failed`` also those whose record failed or timed out."""
    out = []
    for cell in cells:
        status = store.status_of(cell.key)
        if status is None or (retry_failed and status != "ok"):
            out.append(cell)
    return out


# -- running --------------------------------------------------------------------------------------------
def _run_batch(cells: list[Cell], device: str, data_root) -> list[dict]:
    """Run cells on ``device``; the first call pins this process to its device (later calls keep it)."""
    return run_cells(cells, device=pin(device), data_root=data_root, device_label=pinned_device())


def batches(cells: list[Cell], size_of: Callable[[Cell], int]) -> list[list[Cell]]:
    """Group cells that share a method configuration into batches of the method's preferred size."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(repr((sorted(cell.method.items(), key=str), cell.config.get("training"))),
                          []).append(cell)
    out = []
    for group in groups.values():
        size = max(1, size_of(group[0]))
        out.extend(group[i:i + size] for i in range(0, len(group), size))
    return out


def _method_batch_size(cell: Cell) -> int:
    from bench.core.registry import METHODS

    return int(getattr(METHODS.get(cell.method["name"]).obj, "max_batch", 1))


def run(cells: list[Cell], store: ResultsStore, **options) -> RunSummary:
    """Run the given cells (the caller has already removed cached ones) and write their records.

    Each cell is claimed before it runs (``bench.running.leases``): with local workers (processes, sequential) a
    batch is claimed when a worker becomes free for it, so several bench runs on one results folder share
    its cells; the dask and submitit backends claim every cell before they submit. Cells another live run
    holds are skipped, then waited for at the end; those whose holder dies or gives up without a record
    are claimed and run here.
    """
    from bench.running.leases import Claims

    summary, started = RunSummary(total=len(cells)), time.time()
    user_on_record = options.pop("on_record", None)
    cells = _train_first(cells, store, summary, user_on_record, options)
    if summary.interrupted:
        return summary
    with Claims(store.root) as claims:
        def on_record(record: dict) -> None:
            claims.release(record["key"])
            if user_on_record:
                user_on_record(record)

        todo = list(cells)
        while todo and not summary.interrupted:
            claimer = _Claimer(claims, store, started, summary)
            if options.get("backend", "processes") in CLAIM_AS_DISPATCHED:
                part = _dispatch(todo, store, on_record=on_record, take=claimer.take, **options)
            else:
                part = _dispatch(claimer.take(todo), store, on_record=on_record, **options)
            elsewhere = claimer.report()
            summary.dispatched += part.dispatched
            summary.ok, summary.failed, summary.timeout = (summary.ok + part.ok, summary.failed + part.failed,
                                                           summary.timeout + part.timeout)
            summary.failures += part.failures
            summary.interrupted = part.interrupted
            if not summary.interrupted:
                todo = _wait_elsewhere(elsewhere, claims, store, started, summary)
    if summary.elsewhere:
        print(f"{summary.elsewhere} cells were finished by another bench run on {store.root}", file=sys.stderr)
    return summary


def _train_first(cells: list[Cell], store: ResultsStore, summary: RunSummary, on_record, options) -> list[Cell]:
    """Train the jobs the trained methods' cells need (``bench.running.train_stage``); the cells of a job that did not
    finish get a failed record saying why. Returns the cells left to run, each knowing its checkpoint."""
    from bench.planning.training_jobs import attach_checkpoints
    from bench.running import train_stage

    trained = [c for c in cells if c.training is not None]
    if not trained:
        return cells
    backend = options.get("backend", "processes")
    try:
        states = train_stage.train(train_stage.jobs_of(trained), store.root, devices=options.get("devices"),
                                   backend="processes" if backend == "loky" else backend,
                                   data_root=options.get("data_root"), progress=options.get("progress", True),
                                   scheduler_address=options.get("scheduler_address"), slurm=options.get("slurm"))
    except KeyboardInterrupt:
        summary.interrupted = True
        return []
    untrained = train_stage.untrained_records(trained, states)
    for record in untrained:
        store.write(record)
        summary.failed += 1
        summary.failures.append((record["key"], f"failed: {record['error']}"))
        if on_record:
            on_record(record)
    attach_checkpoints(trained, store.root)
    lost = {record["key"] for record in untrained}
    return [c for c in cells if c.key not in lost]


def _finished_since(store: ResultsStore, key: str, since: float) -> bool:
    """Whether another run has finished ``key`` since this one planned it: an ok record, or a record
    written after ``since`` (a failed cell this run was asked to retry, retried elsewhere meanwhile)."""
    record = store.read(key)
    try:
        return record is not None and (record["status"] == "ok" or store.path(key).stat().st_mtime >= since)
    except FileNotFoundError:
        return False


class _Claimer:
    """Claims cells for one pass of a run: ``take(cells)`` returns those this run now holds and keeps aside
    those a live other run holds (``report`` names them and their holders once, and returns them)."""

    def __init__(self, claims, store: ResultsStore, started: float, summary: RunSummary):
        self.claims, self.store, self.started, self.summary = claims, store, started, summary
        self.elsewhere: list[Cell] = []
        self.holders: set[str] = set()

    def take(self, cells: list[Cell]) -> list[Cell]:
        mine = []
        for cell in cells:
            holder = self.claims.take(cell.key)
            if holder is not None:
                self.elsewhere.append(cell)
                self.holders.add(holder.describe())
            elif _finished_since(self.store, cell.key, self.started):  # finished by another run meanwhile
                self.claims.release(cell.key)
                self.summary.elsewhere += 1
            else:
                mine.append(cell)
        return mine

    def report(self) -> list[Cell]:
        if self.elsewhere:
            print(f"{len(self.elsewhere)} cells are being run by another bench run "
                  f"({', '.join(sorted(self.holders))}) on {self.store.root}: skipped here, waited for at the end",
                  file=sys.stderr)
        return self.elsewhere


def _wait_elsewhere(cells, claims, store, started, summary, poll_s: float = 1.0) -> list[Cell]:
    """Wait until each cell has a new record or no live holder; return those left without a record."""
    waiting, orphaned = list(cells), []
    try:
        while waiting:
            still = []
            for cell in waiting:
                if _finished_since(store, cell.key, started):
                    summary.elsewhere += 1
                elif claims.holder(cell.key) is None:
                    orphaned.append(cell)
                else:
                    still.append(cell)
            waiting = still
            if waiting:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        summary.interrupted = True
    return orphaned


def _dispatch(cells: list[Cell], store: ResultsStore, *, devices: str | None = None, jobs: int | None = None,
              backend: str = "processes", scheduler_address: str | None = None, data_root=None,
              progress: bool = True, on_record: Callable[[dict], None] | None = None, slurm=None,
              take: Callable[[list[Cell]], list[Cell]] | None = None) -> RunSummary:
    """Run cells and write their records: cells this process has claimed, or, given ``take``, each batch's
    cells that ``take(batch)`` claims when a worker becomes free for it (the others are not run here)."""
    summary = RunSummary(total=len(cells), dispatched=len(cells))
    if not cells:
        return summary
    pool = device_pool(devices, runs_here(backend, scheduler_address))
    per_device = jobs or default_jobs(pool)
    slots = [d for d in pool for _ in range(per_device)]
    work = batches(cells, _method_batch_size)
    bar = progress_bar(len(cells), "cell", progress)
    board = ProgressBoard() if progress else None  # before any worker starts: they inherit its folder

    def show() -> None:
        counts = (f"ok {summary.ok}  failed {summary.failed + summary.timeout}  "
                  f"left {summary.total - summary.ok - summary.failed - summary.timeout}")
        bar.set_postfix_str(f"{counts}  {board.text()}" if board else counts)

    stop_watching = watch(board, show) if board else None

    def claimed(batch: list[Cell]) -> list[Cell]:
        mine = take(batch)
        skipped = len(batch) - len(mine)
        if skipped:  # another run has them: they leave this run's count
            summary.total -= skipped
            summary.dispatched -= skipped
            bar.total -= skipped
            show()
        return mine

    def consume(records: list[dict]) -> None:
        for record in records:
            store.write(record)  # a full disk: bench.core.files.CannotWrite names the record's file
            status = record["status"]
            setattr(summary, status, getattr(summary, status) + 1)
            if status != "ok":
                summary.failures.append((record["key"], f"{status}: {(record.get('error') or '').splitlines()[0]}"))
            if on_record:
                on_record(record)
            if board:
                board.finished(record["key"])
            bar.update(1)
            show()

    try:
        dispatch(work, slots, _run_batch, consume, _lost, backend=backend, data_root=data_root,
                 results_root=store.root, scheduler_address=scheduler_address, slurm=slurm,
                 take=claimed if take else None, time_limit=_time_limit, prepare=_import_what_cells_use)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if stop_watching:
            stop_watching()
        bar.close()
    return summary


def _import_what_cells_use(batch: list[Cell]) -> None:
    from bench.core.registry import CORRUPTIONS, DATASETS, METHODS, METRICS

    for cell in batch:
        METHODS.get(cell.method["name"]), DATASETS.get(cell.dataset["name"])
        CORRUPTIONS.get(cell.config["corruption"]["name"])
    METRICS.entries()  # every metric: a cell looks its outputs' units up among all of them (output_spec)


def _time_limit(batch: list[Cell]) -> float | None:
    return batch[0].run_options.get("timeout_s")


def _lost(cell: Cell, device: str | None, status: str, reason: str) -> dict:
    """The record of a cell whose worker process died or was stopped: no scores, the reason why (for a crash
    below Python, what an upstream bug report needs, on one line)."""
    if "killed by signal" in reason:
        reason = crash_line(cell, reason)
    return lost_record(cell, device, status, reason)


def crash_line(cell: Cell, reason: str) -> str:
    """``reason`` with the method, the precision configuration it ran under, the torch and oneDNN versions and
    the CPU's bf16-relevant flags (README, Troubleshooting)."""
    from bench.components.precision_probe import crash_facts

    method = cell.method
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(method.get("params", {}).items()))
    ran = (cell.config.get("precision") or {}).get("ran", "not a fitted prior")
    return (f"{reason} in {method['name']} ({params or 'default params'}; precision {ran}); {crash_facts()}; "
            "see README, Troubleshooting")


def estimate_seconds(todo: list[Cell], store: ResultsStore, finished: Iterable[Cell]) -> float | None:
    """Rough work estimate for ``todo``: mean wall time of finished cells of the same method and dataset."""
    import statistics

    known: dict[tuple, list[float]] = {}
    for record in store.records([c.key for c in finished]):
        group = (record["config"]["method"]["name"], record["config"]["dataset"]["name"])
        known.setdefault(group, []).append(record.get("wall_time_s") or 0.0)
    if not known:
        return None
    fallback = statistics.mean(t for times in known.values() for t in times)
    return sum(statistics.mean(known[g]) if (g := (c.method["name"], c.dataset["name"])) in known else fallback
               for c in todo)
