"""Worker processes the scheduler owns: one batch of cells at a time per process, a hard time limit, a crash
that fails only its batch, and no worker outliving the run.

Each worker is a spawned process that keeps one device for its life. The parent sends it a batch over a
pipe and waits on every busy worker's pipe and process sentinel at once, so it sees a result, a death
(segfault, ``os._exit``, the OOM killer) or a passed deadline as soon as it happens; a dead or stopped
worker is replaced on the same device. Workers die with the parent however it ends, ``kill -9`` included:
the kernel sends them SIGKILL when it exits (``PR_SET_PDEATHSIG``).
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Callable, Iterator

_PR_SET_PDEATHSIG = 1


def hard_limit(limit_s: float) -> float:
    """Seconds after which the parent stops a worker whose batch has a time limit of ``limit_s``: the
    method's own check (at each progress report) gets a grace period first, so a method that reports
    records its trace and a clean ``timeout``."""
    return limit_s + max(2.0, 0.2 * limit_s)


@dataclass
class Outcome:
    """What became of one batch: its records, or why it has none (``lost`` = (status, reason))."""

    batch: list
    device: str
    records: list[dict] | None = None
    lost: tuple[str, str] | None = None


def describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"worker process died: killed by signal {-exitcode} ({name})"
    return f"worker process died: exited with code {exitcode}"


def _die_with_parent(parent_pid: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: an idle worker still ends at its pipe's EOF
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took hold
        os._exit(1)


def _serve(conn, device: str, parent_pid: int, run_batch: Callable, prepare: Callable | None) -> None:
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops workers
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        batch, data_root = task
        try:
            if prepare is not None:
                prepare(batch)  # first-time imports of what the batch uses: not part of its time limit
        except Exception:  # noqa: BLE001 - the batch's run reports the same problem as its cells' failure
            pass
        conn.send(("started", None))
        try:
            records = run_batch(batch, device, data_root)
        except Exception as exc:  # noqa: BLE001 - the harness failed, not the method: report, keep serving
            conn.send(("error", f"worker failed outside the method: {type(exc).__name__}: {exc}"))
        else:
            conn.send(("done", records))


class _Worker:
    def __init__(self, context, device: str, run_batch: Callable, prepare: Callable | None):
        self.device = device
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_conn, device, os.getpid(), run_batch, prepare),
                                       daemon=True, name=f"bench-worker-{device}")
        self.process.start()
        child_conn.close()
        self.batch: list | None = None
        self.limit_s: float | None = None
        self.started = 0.0
        self.deadline: float | None = None

    def give(self, batch: list, data_root, limit_s: float | None) -> None:
        self.conn.send((batch, data_root))
        self.batch, self.limit_s, self.deadline = batch, limit_s, None

    def begin(self) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + hard_limit(self.limit_s) if self.limit_s else None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class WorkerPool:
    """``slots``: one device per worker process (a device listed twice gets two workers). A worker calls
    ``run_batch(batch, device, data_root)`` for each batch, after ``prepare(batch)`` if given."""

    def __init__(self, slots: list[str], run_batch: Callable, data_root=None, prepare: Callable | None = None):
        self.slots, self.run_batch, self.data_root, self.prepare = slots, run_batch, data_root, prepare
        self.context = multiprocessing.get_context("spawn")  # no CUDA or thread state inherited by a fork
        self.workers: list[_Worker] = []

    def run(self, batches: list[list], limit_of: Callable[[list], float | None],
            take: Callable[[list], list] | None = None) -> Iterator[Outcome]:
        """Run every batch; yield each outcome as it comes. ``limit_of(batch)``: its time limit or None.
        ``take(batch)``, if given, is asked when a worker is free for the batch: it returns the part to run
        (an empty one is skipped), so the choice of what to run is made as late as possible."""
        queue = deque(batches)
        idle = [self._start(slot) for slot in self.slots[:len(batches)]]
        busy: list[_Worker] = []
        while queue or busy:
            while queue and idle:
                batch = queue.popleft()
                if take is not None:
                    batch = take(batch)
                    if not batch:
                        continue
                worker = idle.pop()
                try:
                    worker.give(batch, self.data_root, limit_of(batch))
                    busy.append(worker)
                except OSError:  # it died while idle: try the batch on a fresh one
                    queue.appendleft(batch)
                    idle.append(self._replace(worker))
            if not busy:  # every batch left was skipped
                continue
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
            for worker in list(busy):
                outcome = self._check(worker)
                if outcome is None:
                    continue
                busy.remove(worker)
                idle.append(worker if outcome.records is not None else self._replace(worker))
                yield outcome

    def _check(self, worker: _Worker) -> Outcome | None:
        batch = worker.batch
        while worker.conn.poll():
            try:
                kind, payload = worker.conn.recv()
            except (EOFError, OSError):  # the pipe closed: the worker is exiting
                worker.process.join()
                return Outcome(batch, worker.device, lost=("failed", describe_exit(worker.process.exitcode)))
            if kind == "started":
                worker.begin()
            elif kind == "done":
                return Outcome(batch, worker.device, records=payload)
            else:
                return Outcome(batch, worker.device, lost=("failed", payload))
        if not worker.process.is_alive():
            worker.process.join()
            return Outcome(batch, worker.device, lost=("failed", describe_exit(worker.process.exitcode)))
        if worker.deadline is not None and time.monotonic() >= worker.deadline:
            worker.stop()
            elapsed = time.monotonic() - worker.started
            return Outcome(batch, worker.device, lost=(
                "timeout", f"passed its time limit without reporting progress: worker process stopped "
                           f"after {elapsed:.1f} s"))
        return None

    def _start(self, device: str) -> _Worker:
        worker = _Worker(self.context, device, self.run_batch, self.prepare)
        self.workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        self.workers.remove(worker)
        return self._start(worker.device)

    def close(self) -> None:
        """Stop every worker now (a busy worker's cells stay without a record, to run again)."""
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
