"""The training stage of a run: train what the pending cells of trained methods need, before those cells.

Each training job (``bench.components.training``) runs once, in a worker process that holds a whole device (on the
CPU: every core), one job per device at a time; with ``--backend dask`` or ``submitit`` it runs where that
backend runs cells (a Dask worker, a SLURM array task), not on the machine that submits. A job another
bench run on the same results folder is training is waited for, not trained twice (``bench.running.leases``). A job that fails fails its cells: they get a
record with the training's reason, and the rest of the run goes on. An interrupted job resumes from its
last finished epoch when the run is started again.
"""
from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

from bench.planning.training_jobs import TrainingJob, jobs_root
from bench.records.record import lost as lost_record
from bench.running.dispatch import dispatch

CLAIM_PREFIX = "training-"
TRAIN_THREADS_ENV = "BENCH_TRAIN_THREADS"


def jobs_of(cells) -> list[TrainingJob]:
    """The distinct training jobs of ``cells``, in first-seen order."""
    jobs: dict[str, TrainingJob] = {}
    for cell in cells:
        if cell.training is not None:
            jobs.setdefault(cell.training.key, cell.training)
    return list(jobs.values())


def is_trained_job_done(job: TrainingJob, results_root) -> bool:
    return job.files(results_root).is_done()


def describe(job: TrainingJob, results_root) -> dict:
    """State of one job for status and dry runs: done, failed (why), interrupted at epoch k, or pending."""
    files = job.files(results_root)
    state = files.state()
    last = files.last_epoch()
    name = "done" if is_trained_job_done(job, results_root) else state.get("state", "pending")
    if name == "running" and not _holder_alive(state.get("pid")):
        name = "interrupted"
    trained = files.trained
    return {"key": job.key, "method": job.labels.get("method", job.config["method"]["name"]),
            "seed": job.config["seed"], "state": name, "epochs": job.epochs,
            "epochs_done": 0 if last is None else last + 1, "items": job.items,
            "error": (state.get("error") or "").splitlines()[0] if name == "failed" else None,
            "final_loss": (state.get("losses") or [None])[-1], "wall_time_s": state.get("wall_time_s"),
            "stopped_early": files.stopped_early(),
            "trained_mb": round(trained.stat().st_size / 2**20, 2) if trained.is_file() else None,
            "folder": str(files.path)}


def _cpu_time(seconds: float) -> str:
    return f"{seconds:.0f} CPU-seconds" if seconds < 120 else f"{seconds / 60:,.0f} CPU-minutes"


def training_threads() -> int:
    """CPU threads a training takes: $BENCH_TRAIN_THREADS (bench check trains on one, the same on every
    machine), else $OMP_NUM_THREADS as the user set it, else every core the process may use."""
    given = os.environ.get(TRAIN_THREADS_ENV) or os.environ.get("OMP_NUM_THREADS")
    return max(1, int(given)) if given and given.strip().isdigit() else _usable_cores()


def _holder_alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False


def summary_lines(jobs: list[TrainingJob], results_root) -> list[str]:
    """One line per job: method, seed, state, epochs done of all, the work (epochs x items)."""
    lines = []
    for job in jobs:
        d = describe(job, results_root)
        why = f": {d['error']}" if d["error"] else ""
        why += f" (stopped early: {d['stopped_early']['reason']})" if d["stopped_early"] else ""
        lines.append(f"  {d['method']:<28} seed {d['seed']:<3} {d['state']:<11} epoch {d['epochs_done']}/{d['epochs']}"
                     f"  work {d['epochs']} epochs x {d['items']} training items  [{job.key[:12]}]{why}")
        cost = job.estimated_cpu_seconds()
        cost = "no estimate" if cost is None else f"about {_cpu_time(cost)} (the method's estimate)"
        lines.append(f"      {cost}; {job.settings()}")
    return lines


def train(jobs: list[TrainingJob], results_root, *, devices: str | None = None, backend: str = "processes",
          data_root=None, progress: bool = True, retry_failed: bool = True, scheduler_address: str | None = None,
          slurm=None) -> dict[str, dict]:
    """Train every job not yet done; returns key -> final state (``state`` done, failed, interrupted).
    Raises KeyboardInterrupt after stopping the workers when interrupted."""
    from bench.running.leases import Claims

    results_root = Path(results_root)
    states: dict[str, dict] = {}
    todo = []
    for job in jobs:
        state = job.files(results_root).state()
        if is_trained_job_done(job, results_root):
            states[job.key] = {"state": "done"}
        elif not retry_failed and state.get("state") == "failed":
            states[job.key] = state
        else:
            todo.append(job)
    if not todo:
        return states
    print(f"training {len(todo)} job(s) before their cells ({len(jobs) - len(todo)} already trained); "
          f"checkpoints in {jobs_root(results_root)}", file=sys.stderr)
    with Claims(results_root) as claims:
        mine, elsewhere = [], []
        for job in todo:
            (elsewhere if claims.take(CLAIM_PREFIX + job.key) is not None else mine).append(job)
        try:
            states.update(_run(mine, results_root, devices, backend, data_root, progress, scheduler_address, slurm))
        finally:
            for job in mine:
                claims.release(CLAIM_PREFIX + job.key)
        for job in elsewhere:
            states[job.key] = _wait_for(job, claims, results_root)
    return states


def _wait_for(job: TrainingJob, claims, results_root, poll_s: float = 2.0) -> dict:
    print(f"training job {job.key[:12]} is being trained by another bench run: waiting for it", file=sys.stderr)
    while claims.holder(CLAIM_PREFIX + job.key) is not None:
        time.sleep(poll_s)
    if is_trained_job_done(job, results_root):
        return {"state": "done"}
    return job.files(results_root).state() | {"state": "failed",
                                                   "error": "its training by another bench run did not finish"}


def _run(jobs, results_root, devices, backend, data_root, progress, scheduler_address=None,
         slurm=None) -> dict[str, dict]:
    from bench.core.progress import ProgressBoard, progress_bar, watch
    from bench.running.devices import device_pool, runs_here

    if not jobs:
        return {}
    pool = device_pool(devices, runs_here(backend, scheduler_address))
    bar = progress_bar(len(jobs), "job", progress, desc="training")
    board = ProgressBoard() if progress else None
    stop = watch(board, lambda: bar.set_postfix_str(board.text())) if board else None
    states: dict[str, dict] = {}

    def consume(results: list[dict]) -> None:
        for state in results:
            states[state["key"]] = state
            bar.update(1)
            if state["state"] != "done":
                print(f"training {state['key'][:12]} {state['state']}: {(state.get('error') or '').splitlines()[0]}",
                      file=sys.stderr)

    try:
        dispatch([[job] for job in jobs], pool, functools.partial(train_batch, results_root=str(results_root)),
                 consume, _lost_state, backend=backend, data_root=data_root, results_root=results_root,
                 scheduler_address=scheduler_address, slurm=slurm)
    finally:
        if stop:
            stop()
        bar.close()
    return states


def _lost_state(job: TrainingJob, device: str | None, status: str, reason: str) -> dict:
    """The final state of a job whose worker or submitit job gave none: failed, and why."""
    return {"key": job.key, "state": "failed", "error": reason}


def train_batch(jobs: list[TrainingJob], device: str, data_root, *, results_root: str) -> list[dict]:
    """Worker side: train ``jobs`` one after another on ``device``, with every core when it is the CPU."""
    from bench.components.training import run_job
    from bench.core.progress import FitProgress
    from bench.running.devices import pin

    local = pin(device)
    import torch

    threads = torch.get_num_threads()  # restored after: a sequential run's cells keep their thread count
    if local == "cpu":
        torch.set_num_threads(training_threads())
    out = []
    try:
        for job in jobs:
            state = run_job(job, results_root, device=local, data_root=data_root,
                            progress=FitProgress.for_cell(CLAIM_PREFIX + job.key))
            out.append({"key": job.key, "state": state["state"], "error": state.get("error")})
    finally:
        torch.set_num_threads(threads)
    return out


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as taskset or a SLURM allocation sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def untrained_records(cells, states: dict[str, dict]) -> list[dict]:
    """Failed records for the cells whose training job did not finish, saying why."""
    out = []
    for cell in cells:
        if cell.training is None:
            continue
        state = states.get(cell.training.key, {"state": "pending"})
        if state["state"] != "done":
            reason = (state.get("error") or state["state"]).splitlines()[0]
            out.append(lost_record(cell, None, "failed", f"training job {cell.training.key} {state['state']}: {reason}"))
    return out
