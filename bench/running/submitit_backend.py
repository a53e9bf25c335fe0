"""``--backend submitit``: batches of cells as SLURM job arrays, through ``submitit``.

Each array task runs one batch with the batch function ``bench.running.dispatch`` hands over and returns its records; this process
writes them as jobs finish, so claims, resume and failure isolation work as with local workers: a job that
fails, is cancelled or runs out of time gets a record per cell with submitit's error (``bench.records.record.lost``,
through the ``lost_record`` it is given). ``submitit-local``
runs the same jobs as local processes (submitit's LocalExecutor), to try a run without a cluster.

The training stage sends its jobs the same way, one array task per training job, before the cells
(``bench.running.train_stage``). A training job writes its checkpoints into the results folder itself, so on a
cluster the results folder must be on a file system the nodes share (the cells read their trained weights
from there too).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.planning.cells import Cell


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    time_min: int = 60  # per array task, i.e. per batch of cells
    gpus_per_task: int = 0
    logs: Path | None = None  # default: <results>/submitit
    max_parallel: int | None = None  # array tasks running at once (SLURM's %N)


def make_executor(cluster: str, folder: Path, options: SlurmOptions):
    try:
        import submitit
    except ImportError:
        raise RuntimeError("--backend submitit needs submitit: pip install 'bench[slurm]'") from None
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    parameters = {"timeout_min": options.time_min, "gpus_per_node": options.gpus_per_task,
                  "tasks_per_node": 1, "name": "bench"}
    if cluster == "slurm":
        if options.partition:
            parameters["slurm_partition"] = options.partition
        if options.max_parallel:
            parameters["slurm_array_parallelism"] = options.max_parallel
    executor.update_parameters(**parameters)
    return executor


def run_submitit(work: list[list[Cell]], run_batch: Callable, data_root, consume, *, results_root: Path,
                 options: SlurmOptions, local: bool, lost_record: Callable) -> None:
    """Submit one array task per batch (of cells, or of training jobs); hand each finished job's records (or
    ``lost_record``'s per item of a job that failed) to ``consume``. Interrupting this process cancels the jobs
    still queued or running."""
    import submitit

    folder = options.logs or Path(results_root) / "submitit"
    executor = make_executor("local" if local else "slurm", folder, options)
    device = "cuda" if options.gpus_per_task else "cpu"  # "cuda": the GPUs SLURM gave the task, left as set
    jobs = executor.map_array(run_batch, work, [device] * len(work), [data_root] * len(work))
    batch_of = {id(job): batch for job, batch in zip(jobs, work)}
    print(f"submitted {len(jobs)} {'local ' if local else ''}submitit jobs (logs in {folder})", file=sys.stderr)
    finished = set()
    try:
        for job in submitit.helpers.as_completed(jobs, poll_frequency=0.5 if local else 10):
            finished.add(id(job))
            consume(_records_of(job, batch_of[id(job)], device, lost_record))
    finally:
        for job in jobs:
            if id(job) not in finished:
                job.cancel(check=False)


def _records_of(job, batch: list[Cell], device: str, lost_record: Callable) -> list[dict]:
    error = job.exception()
    if error is None:
        return job.result()
    status = "timeout" if job.state.upper().startswith("TIMEOUT") else "failed"
    text = str(error).strip()
    last = text.splitlines()[-1] if text else type(error).__name__
    reason = f"submitit job {job.job_id} {job.state.lower()}: {last}\n{text}"
    return [lost_record(cell, device, status, reason) for cell in batch]
