"""One dispatch for every kind of work a run sends out (cells, training jobs), over every backend.

The work is a list of batches of units; ``run_batch(batch, device, data_root)`` runs one batch where the
backend puts it and returns one result per unit (a cell's record, a training job's final state). Results go
to ``consume`` as batches finish, so the caller writes them at once and an interrupted run loses only the
batches in flight. A batch that gives no results (its worker process died or passed its hard time limit, its
submitit job failed) gets ``lost(unit, device, status, reason)`` per unit instead, and the run goes on.

Backends: ``processes`` (``loky`` is its old name): worker processes from ``bench.running.worker_pool``, one per
slot, each keeping its device for its life; ``sequential``: in this process on the first slot (a crash ends
the run: for debugging); ``dask``: a Dask distributed cluster through joblib's backend switch;
``submitit`` / ``submitit-local``: SLURM job arrays, or local processes, through ``bench.running.submitit_backend``.
"""
from __future__ import annotations

from typing import Any, Callable

BACKENDS = ("processes", "loky", "sequential", "dask", "submitit", "submitit-local")
# backends where a batch is claimed (bench.running.leases) as a worker takes it, rather than all before submitting
CLAIM_AS_DISPATCHED = ("processes", "loky", "sequential")

RunBatch = Callable[[list, str, Any], list]
Lost = Callable[[Any, "str | None", str, str], Any]


def dispatch(work: list[list], slots: list[str], run_batch: RunBatch, consume: Callable[[list], None],
             lost: Lost, *, backend: str = "processes", data_root=None, results_root=None,
             scheduler_address: str | None = None, slurm=None, take: Callable[[list], list] | None = None,
             time_limit: Callable[[list], float | None] | None = None,
             prepare: Callable[[list], None] | None = None) -> None:
    """Run every batch of ``work`` on ``slots`` (one device name per worker) with ``backend``.

    ``take(batch)``: with the backends of ``CLAIM_AS_DISPATCHED``, the part of a batch to run, asked when a
    worker becomes free for it (the rest is not run here). ``time_limit(batch)``: seconds after which a
    local worker is stopped (``worker_pool.hard_limit`` of it), or None. ``prepare(batch)``: called in a
    local worker before each batch (first-time imports, which the time limit does not count). ``results_root``:
    where submitit keeps its job files by default. Raises KeyboardInterrupt, after stopping the local
    workers or cancelling the submitted jobs, when interrupted.
    """
    if backend not in BACKENDS:
        raise ValueError(f"--backend {backend}: not one of processes, dask, submitit, submitit-local, sequential")
    if backend == "sequential":
        for batch in work:
            batch = take(batch) if take else batch
            if batch:
                consume(run_batch(batch, slots[0], data_root))
    elif backend in ("processes", "loky"):
        _run_processes(work, slots, run_batch, data_root, consume, lost, take, time_limit, prepare)
    elif backend == "dask":
        _run_dask(work, slots, run_batch, scheduler_address, data_root, consume)
    else:
        from bench.running.submitit_backend import SlurmOptions, run_submitit

        run_submitit(work, run_batch, data_root, consume, results_root=results_root,
                     options=slurm or SlurmOptions(), local=backend == "submitit-local", lost_record=lost)


def _run_processes(work, slots, run_batch, data_root, consume, lost, take, time_limit, prepare) -> None:
    """Batches in worker processes (even for one slot, so a crash or hang costs only its batch)."""
    from bench.running.worker_pool import WorkerPool

    pool = WorkerPool(slots, run_batch, data_root, prepare=prepare)
    try:
        for outcome in pool.run(work, time_limit or (lambda batch: None), take=take):
            if outcome.records is not None:
                consume(outcome.records)
            else:
                consume([lost(unit, outcome.device, *outcome.lost) for unit in outcome.batch])
    finally:
        pool.close()


def _run_dask(work, slots, run_batch, scheduler_address, data_root, consume) -> None:
    """Batches on a Dask cluster (``scheduler_address``, else a LocalCluster of one worker per slot)."""
    try:
        from distributed import Client, LocalCluster
        from joblib import Parallel, delayed, parallel_config
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
            tasks = (delayed(run_batch)(batch, slots[i % len(slots)], data_root) for i, batch in enumerate(work))
            for results in parallel(tasks):
                consume(results)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
