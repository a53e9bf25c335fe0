"""The scheduler: decide which cells still need running, and run them on a pool of devices with joblib.

Locally, ``jobs`` worker processes per device (loky); each worker process takes one device token the first
time it runs a cell and keeps it, setting ``CUDA_VISIBLE_DEVICES`` before CUDA initialises. With
``backend="dask"`` the same cells go to a Dask distributed cluster through joblib's backend switch.
Records are written by this process as results arrive, so an interrupted run loses only cells in flight,
and a rerun dispatches only the cells without a record.
"""
from __future__ import annotations

import os
import queue as _queue
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable

from joblib import Parallel, delayed, parallel_config

from bench.cells import Cell
from bench.progress import ProgressBoard, watch
from bench.store import ResultsStore
from bench.worker import pin_device, run_cells


@dataclass
class RunSummary:
    total: int = 0
    cached: int = 0
    dispatched: int = 0
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    interrupted: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    @property
    def any_failed(self) -> bool:
        return self.failed + self.timeout > 0


# -- planning -------------------------------------------------------------------------------------------
def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/n (for example 0/4), not {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard {text}: need 0 <= i < n")
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


# -- devices --------------------------------------------------------------------------------------------
def visible_gpus() -> list[str]:
    """CUDA devices visible to this process, found without initialising CUDA here."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
        return [f"cuda:{i}" for i in range(len(ids))]
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
            return [f"cuda:{i}" for i, line in enumerate(l for l in listing.splitlines() if l.startswith("GPU "))]
        except (OSError, subprocess.SubprocessError):
            return []
    return []


def device_pool(devices: str | None = None) -> list[str]:
    """``--devices``: "cpu", "cuda", "cuda:0,cuda:1", or None for every visible GPU (else the CPU)."""
    if devices in (None, "", "auto"):
        return visible_gpus() or ["cpu"]
    if devices == "cuda":
        gpus = visible_gpus()
        if not gpus:
            raise ValueError("--devices cuda: no CUDA device is visible")
        return gpus
    return [d.strip() for d in devices.split(",") if d.strip()]


def default_jobs(pool: list[str]) -> int:
    """Workers per device: one per GPU, one per core on the CPU."""
    return max(1, os.cpu_count() or 1) if pool == ["cpu"] else 1


# -- running --------------------------------------------------------------------------------------------
_PINNED_DEVICE: str | None = None


def _run_batch(cells: list[Cell], tokens, fallback: str, data_root) -> list[dict]:
    """Runs in a worker process: take a device token once, then run the cells on it."""
    global _PINNED_DEVICE
    if _PINNED_DEVICE is None:
        device = fallback
        if tokens is not None:
            try:
                device = tokens.get(timeout=1.0)
            except _queue.Empty:  # a replacement worker after a crash: share the fallback device
                pass
        pin_device(device)
        _PINNED_DEVICE = device
    local = "cuda" if _PINNED_DEVICE.startswith("cuda:") else _PINNED_DEVICE
    records = run_cells(cells, device=local, data_root=data_root)
    for record in records:
        record["device"] = _PINNED_DEVICE
    return records


def batches(cells: list[Cell], size_of: Callable[[Cell], int]) -> list[list[Cell]]:
    """Group cells that share a method configuration into batches of the method's preferred size."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(repr(sorted(cell.method.items(), key=str)), []).append(cell)
    out = []
    for group in groups.values():
        size = max(1, size_of(group[0]))
        out.extend(group[i:i + size] for i in range(0, len(group), size))
    return out


def _method_batch_size(cell: Cell) -> int:
    from bench.registry import METHODS

    return int(getattr(METHODS.get(cell.method["name"]).obj, "max_batch", 1))


def run(cells: list[Cell], store: ResultsStore, *, devices: str | None = None, jobs: int | None = None,
        backend: str = "loky", scheduler_address: str | None = None, data_root=None,
        progress: bool = True, on_record: Callable[[dict], None] | None = None) -> RunSummary:
    """Run the given cells (the caller has already removed cached ones) and write their records."""
    summary = RunSummary(total=len(cells), dispatched=len(cells))
    if not cells:
        return summary
    pool = device_pool(devices)
    per_device = jobs or default_jobs(pool)
    slots = [d for d in pool for _ in range(per_device)]
    work = batches(cells, _method_batch_size)
    bar = _progress_bar(len(cells), progress)
    board = ProgressBoard() if progress else None  # before any worker starts: they inherit its folder

    def show() -> None:
        counts = (f"ok {summary.ok}  failed {summary.failed + summary.timeout}  "
                  f"left {summary.total - summary.ok - summary.failed - summary.timeout}")
        bar.set_postfix_str(f"{counts}  {board.text()}" if board else counts)

    stop_watching = watch(board, show) if board else None

    def consume(records: list[dict]) -> None:
        for record in records:
            store.write(record)
            status = record["status"]
            setattr(summary, status, getattr(summary, status) + 1)
            if status != "ok":
                summary.failures.append((record["key"], (record.get("error") or "").splitlines()[0]))
            if on_record:
                on_record(record)
            if board:
                board.finished(record["key"])
            bar.update(1)
            show()

    try:
        if backend == "dask":
            _run_dask(work, slots, scheduler_address, data_root, consume)
        elif len(slots) == 1 and backend == "sequential":
            for batch in work:
                consume(_run_batch(batch, None, slots[0], data_root))
        else:
            _run_local(work, slots, data_root, consume)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if stop_watching:
            stop_watching()
        bar.close()
    return summary


def _run_local(work, slots, data_root, consume) -> None:
    """Run batches on loky workers. A worker that dies (segfault, OOM kill) takes the in-flight batches
    with it: those are run again, and if the pool dies a second time the rest run one batch per pool,
    so the batch that kills its worker is recorded as failed and every other cell still runs."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    remaining = list(work)
    for attempt in range(2):
        finished: set[int] = set()

        def consume_batch(item):
            index, records = item
            finished.add(index)
            consume(records)

        try:
            _parallel_local(list(enumerate(remaining)), slots, data_root, consume_batch)
            return
        except TerminatedWorkerError:
            remaining = [b for i, b in enumerate(remaining) if i not in finished]
    for batch in remaining:  # isolation: one batch per pool
        try:
            # n_jobs=2 with a single task: one loky child runs it, so its death does not take this process.
            _parallel_local([(0, batch)], slots[:1], data_root, lambda item: consume(item[1]), n_jobs=2)
        except TerminatedWorkerError as exc:
            consume([_crashed_record(cell, slots[0], exc) for cell in batch])


def _parallel_local(indexed_work, slots, data_root, consume_batch, n_jobs: int | None = None) -> None:
    manager = tokens = None
    if len(set(slots)) > 1:
        import multiprocessing

        manager = multiprocessing.Manager()
        tokens = manager.Queue()
        for slot in slots:
            tokens.put(slot)
    try:
        # joblib runs n_jobs=1 in this process (no isolation from a crashing method, but resumable).
        parallel = Parallel(n_jobs=n_jobs or len(slots), backend="loky", return_as="generator_unordered")
        for item in parallel(delayed(_indexed_batch)(i, batch, tokens, slots[0], data_root)
                             for i, batch in indexed_work):
            consume_batch(item)
    finally:
        if manager is not None:
            manager.shutdown()


def _indexed_batch(index, batch, tokens, fallback, data_root):
    return index, _run_batch(batch, tokens, fallback, data_root)


def _crashed_record(cell: Cell, device: str, exc: BaseException) -> dict:
    from bench.provenance import provenance

    return {"key": cell.key, "config": cell.config, "labels": cell.labels, "device": device, "status": "failed",
            "error": f"worker process died while running this cell: {exc}".splitlines()[0],
            "wall_time_s": None, "peak_rss_mb": None, "peak_cuda_mb": None, "provenance": provenance()}


def _run_dask(work, slots, scheduler_address, data_root, consume) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("--backend dask needs dask[distributed]: pip install 'bench[dask]'") from None
    cluster = None
    if scheduler_address:
        client = Client(scheduler_address)
    else:
        cluster = LocalCluster(n_workers=len(slots), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        with parallel_config(backend="dask"):
            parallel = Parallel(n_jobs=-1, return_as="generator_unordered")
            # Dask workers are not pinned by token; each batch names its device round-robin.
            tasks = (delayed(_run_batch)(batch, None, slots[i % len(slots)], data_root)
                     for i, batch in enumerate(work))
            for records in parallel(tasks):
                consume(records)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="cell", disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                smoothing=0.1, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")


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
