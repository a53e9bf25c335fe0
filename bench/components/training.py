"""Trained methods: learn from a training split once (``fit``), then restore every test item (``restore``).

A ``TrainedMethod`` declares what it trains on (``training_data``: named sources, each a dataset, its
parameters and a split) and its training protocol (``training_defaults``: epochs, batch size, learning
rate, segment length, ... any JSON values). A suite may override both per method (``training = {...}``,
``training_data = {...}`` in ``[[methods]]``) and per profile (``[profiles.<p>.training]``).

A training job (its configuration, key, folder and files) is owned by ``bench.planning.training_jobs``; this module
trains one (``run_job``) into its folder ``<results>/training/<key>/``.

Training resumes exactly: ``TrainingContext.epochs`` seeds torch and ``context.rng`` from (seed, epoch)
before each epoch, and saves model and optimiser after it, so a job killed at any point and rerun ends
with the same weights as one that was never interrupted.

Early stopping (the training key ``stop_when_loss_stops_falling``, which a method supports by declaring
it): the training ends after the first epoch whose mean loss did not fall below the previous epoch's (an
equal one did not fall), keeping that epoch's weights. The decision is read from the losses the checkpoint
holds, so a job resumed after it trains no further, and one resumed before it compares its next epoch
with the last recorded one.
"""
from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from bench.components.method import Method
from bench.core.audio import Clip
from bench.core.failures import describe_failure
from bench.core.files import write_json, write_torch
from bench.core.protocol import STOP_WHEN_LOSS_STOPS_FALLING, TRAINING_BASE, TrainingProtocol, harness_training_value

# old import paths (bench.planning.training_jobs and bench.core.protocol own these now)
from bench.core.protocol import resolve_training as resolve_protocol  # noqa: E402,F401
from bench.core.seeds import derive_seed, item_seed
from bench.planning.training_jobs import (  # noqa: E402,F401
    FOLDER,
    TRAINING_FORMAT,
    JobFolder,
    TrainingJob,
    checkpoint_epoch,
    job_state,
    trained_path,
    versions,
)


# -- the method side ------------------------------------------------------------------------------------
class TrainedMethod(Method):
    """Base class of a method that trains once, then restores.

    Subclasses set ``tasks``, ``training_data`` (source name -> ``{"dataset": ..., "params": {...},
    "split": ...}``) and ``training_defaults``, and implement:

    - ``build(self) -> torch.nn.Module``: the untrained network (the harness seeds torch first);
    - ``fit(self, data, context)``: build the network, set ``self.model`` to it and train it, looping
      ``for epoch in context.epochs(self.model, optimizer):`` and calling ``context.step(loss)`` after each
      optimiser step, so that checkpoints, resumption, progress and early stopping come from the harness
      (``context.step(loss, stopping_loss=...)`` where early stopping watches another quantity than the
      loss minimised, e.g. one term of it);
      ``context.protocol`` (a ``bench.core.protocol.TrainingProtocol``) holds the resolved training keys, typed
      like their defaults, and refuses a key ``training_defaults`` does not declare;
    - ``restore(self, observation, context)``: with ``self.model`` (trained weights, in eval mode, on
      ``context.device``).
    """

    training_data: dict[str, dict] = {}
    training_defaults: dict[str, Any] = dict(TRAINING_BASE)  # every training has epochs (1 where not declared)
    model = None  # the trained network, set by load_trained

    def build(self):
        raise NotImplementedError

    def fit(self, data: "TrainingData", context: "TrainingContext") -> None:
        raise NotImplementedError

    def load_trained(self, path: str | os.PathLike, device: str = "cpu") -> None:
        """Load ``trained.pt`` into a freshly built network (``self.model``), in eval mode."""
        import torch

        state = torch.load(path, map_location=device, weights_only=True)
        self.model = self.model_from_state(state["model"]).to(device).eval()

    def model_from_state(self, weights: dict):
        """A built network with ``weights`` loaded; override to read settings the weights carry first."""
        model = self.build()
        model.load_state_dict(weights)
        return model


def is_trained(cls_or_method) -> bool:
    cls = cls_or_method if isinstance(cls_or_method, type) else type(cls_or_method)
    return issubclass(cls, TrainedMethod)


@dataclass
class TrainingSource:
    """One named source of training data: a dataset, its split and the chosen items."""

    name: str
    dataset: Any  # a bench.components.dataset.Dataset
    items: list[str]
    sample_rate: int
    seconds: float | None

    def load(self, item: str) -> Clip:
        """An item's clean clip as the cells prepare theirs (the same rate, length and item seed)."""
        return self.dataset.load(item, sr=self.sample_rate, seconds=self.seconds,
                                 rng=np.random.default_rng(item_seed(self.dataset.name, item)))

    def clips(self) -> Iterator[Clip]:
        for item in self.items:
            yield self.load(item)

    def __len__(self) -> int:
        return len(self.items)


class TrainingData(dict):
    """Source name -> ``TrainingSource``; what ``fit`` trains on and nothing else."""


class TrainingContext:
    """Where and how a method trains: device, seed, the resolved training protocol, checkpoints, progress."""

    def __init__(self, folder: Path, *, device: str = "cpu", seed: int = 0, protocol: Mapping | None = None,
                 progress: Callable[[int, int, Any], None] | None = None,
                 stop_after_epoch: int | None = None):
        self.folder = Path(folder)
        self.device, self.seed = device, seed
        # what fit reads: the job's resolved protocol (a plain mapping, as tests give, is taken as resolved)
        self.protocol = (protocol if isinstance(protocol, TrainingProtocol)
                         else TrainingProtocol({**TRAINING_BASE, **(protocol or {})}))
        self._total_epochs = self.protocol["epochs"]
        self.progress = progress
        self.rng = np.random.default_rng(derive_seed("training", seed))
        self.epoch = 0
        self.losses: list[float] = []  # mean training loss per finished epoch
        self.stopping_losses: list[float] = []  # mean of what early stopping watches, per finished epoch
        self.stops_early = bool(harness_training_value(self.protocol, STOP_WHEN_LOSS_STOPS_FALLING))
        self.stopped_early: dict | None = None  # after which epoch and why, once it has
        self.resumed_from: int | None = None
        self._stop_after_epoch = stop_after_epoch  # tests: simulate a kill after this epoch
        self._epoch_losses: list[float] = []
        self._epoch_stopping_losses: list[float] = []
        self._step = 0
        self._steps_per_epoch: int | None = None

    @property
    def checkpoint_path(self) -> Path:
        return JobFolder(self.folder).checkpoint

    def seed_epoch(self, epoch: int) -> None:
        """Seed torch and ``self.rng`` for ``epoch``: what an epoch draws depends on (seed, epoch) only."""
        import torch

        torch.manual_seed(derive_seed("training-epoch", self.seed, epoch) % 2**63)
        self.rng = np.random.default_rng(derive_seed("training-epoch", self.seed, epoch))

    def epochs(self, model, optimizer=None, total: int | None = None, steps_per_epoch: int | None = None
               ) -> Iterator[int]:
        """Epoch numbers 0..total-1 (``total``: the protocol's ``epochs``), resuming after the last
        checkpoint, and none after the training stopped early. Before each epoch torch and ``self.rng`` are
        seeded from (seed, epoch); after it model, optimiser and the epoch's mean loss (``step``) are saved
        atomically."""
        import torch

        total = self._total_epochs = self.protocol["epochs"] if total is None else int(total)
        self._steps_per_epoch = steps_per_epoch
        start = 0
        if self.checkpoint_path.is_file():
            state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
            model.load_state_dict(state["model"])
            if optimizer is not None and state.get("optimizer") is not None:
                optimizer.load_state_dict(state["optimizer"])
            start, self.losses = int(state["epoch"]) + 1, list(state["losses"])
            self.stopping_losses = list(state.get("stopping_losses", self.losses))
            self.resumed_from = start
        self.stopped_early = self._stopping(total)
        for epoch in range(start, total):
            if self.stopped_early is not None:
                break
            self.epoch, self._epoch_losses, self._epoch_stopping_losses, self._step = epoch, [], [], 0
            self.seed_epoch(epoch)
            model.train()
            yield epoch
            self.losses.append(_mean(self._epoch_losses))
            self.stopping_losses.append(_mean(self._epoch_stopping_losses or self._epoch_losses))
            self.stopped_early = self._stopping(total)
            write_torch(self.checkpoint_path, {"model": model.state_dict(),
                                               "optimizer": optimizer.state_dict() if optimizer is not None else None,
                                               "epoch": epoch, "losses": self.losses,
                                               "stopping_losses": self.stopping_losses})
            progress = {"last_epoch": epoch, "epochs": total, "losses": self.losses}
            if self.stops_early:
                progress.update(stopping_losses=self.stopping_losses, stopped_early=self.stopped_early)
            write_json(JobFolder(self.folder).epoch, progress, indent=1, default=str)
            self._show(total, done=True)
            if self._stop_after_epoch is not None and epoch >= self._stop_after_epoch:
                raise TrainingInterrupted(f"stopped after epoch {epoch} (as asked)")

    def _stopping(self, total: int) -> dict | None:
        """After which epoch and why the training stopped early (the losses so far say), or None."""
        if not self.stops_early:
            return None
        epoch = first_epoch_not_falling(self.stopping_losses)
        if epoch is None:
            return None
        before, now = self.stopping_losses[epoch - 1], self.stopping_losses[epoch]
        return {"epoch": epoch, "epochs": total,
                "reason": f"the mean loss of epoch {epoch + 1} ({now:.6g}) did not fall below that of epoch "
                          f"{epoch} ({before:.6g})"}

    def step(self, loss, stopping_loss=None) -> None:
        """Note one optimiser step's loss (a float or a 0-d tensor) for the epoch's mean and the display, and
        ``stopping_loss`` where early stopping watches another quantity (else the loss). A tensor is kept on
        its device and read only at the epoch's end or when the display takes an update, so a GPU training
        does not wait for the host at every step."""
        if stopping_loss is not None:
            self._epoch_stopping_losses.append(_kept(stopping_loss))
        self._epoch_losses.append(_kept(loss))
        self._step += 1
        self._show(self._total_epochs)

    def _show(self, total_epochs: int, done: bool = False) -> None:
        """The display's line: ``epoch 3/10 step 120/400 loss 0.0123``, steps counted over the whole training."""
        if self.progress is None:
            return
        per = self._steps_per_epoch
        if per:
            position, total = self.epoch * per + (per if done else min(self._step, per)), total_epochs * per
        else:
            position, total = self.epoch + (1 if done else 0), total_epochs
        recent = self._epoch_losses[-20:]
        loss = (lambda: _mean(recent)) if recent else (self.losses[-1] if self.losses else float("nan"))
        self.progress(position, total, loss, unit=f"epoch {self.epoch + 1}/{total_epochs} step" if per else "epoch")


def first_epoch_not_falling(losses: list[float]) -> int | None:
    """The first epoch (0-based) whose mean loss is not below the previous epoch's (equal, higher or NaN),
    or None while every epoch has lowered it."""
    for epoch in range(1, len(losses)):
        if not losses[epoch] < losses[epoch - 1]:
            return epoch
    return None


def _kept(loss):
    """A step's loss as kept until the epoch's end: a tensor detached on its device, else a float."""
    return loss.detach() if hasattr(loss, "detach") else float(loss)


def _mean(losses: list) -> float:
    """Mean of step losses (floats or 0-d tensors), read from the device once; NaN for none."""
    if not losses:
        return float("nan")
    return float(sum(losses) / len(losses))


class TrainingInterrupted(Exception):
    """A training stopped on purpose (tests simulate a kill with it)."""


# -- running a job --------------------------------------------------------------------------------------
def training_data(job: TrainingJob, data_root=None) -> TrainingData:
    from bench.components.dataset import build_dataset

    data = TrainingData()
    for name, source in job.config["data"].items():
        dataset = build_dataset(source["name"], source["params"], data_root)
        data[name] = TrainingSource(name, dataset, list(source["items"]), int(source["sample_rate"]),
                                    source.get("seconds"))
    return data


def run_job(job: TrainingJob, results_root, device: str = "cpu", data_root=None,
            progress: Callable | None = None, stop_after_epoch: int | None = None) -> dict:
    """Train ``job`` (resuming from its checkpoint) and write ``trained.pt``; returns the job's state.
    A failure is caught and recorded with its reason; it is returned, not raised."""
    import torch

    from bench.components.method import build_method
    from bench.core.provenance import provenance

    files = job.files(results_root)
    files.path.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # the thread count changes float rounding, so the weights: kept beside them (not in the key: where a job
    # trains must not change which job it is)
    state = {**job.to_dict(), "state": "running", "device": device, "threads": torch.get_num_threads(),
             "error": None, "pid": os.getpid()}
    write_json(files.job, state, indent=1, default=str)
    context = TrainingContext(files.path, device=device, seed=job.seed, protocol=job.protocol, progress=progress,
                              stop_after_epoch=stop_after_epoch)
    try:
        method = build_method(job.config["method"]["name"], job.config["method"]["params"])
        data = training_data(job, data_root)
        context.seed_epoch(-1)  # the initial weights depend on the seed only
        method.fit(data, context)
        model = method.model
        if model is None:
            raise RuntimeError(f"{type(method).__name__}.fit trained no model: it must set self.model")
        write_torch(files.trained, {"model": model.state_dict(), "losses": context.losses})
        finished = {"state": "done"}
    except TrainingInterrupted as exc:
        finished = {"state": "interrupted", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing training fails its cells, not the run
        finished = {"state": "failed", "error": describe_failure(exc)}
    state.update(finished, losses=context.losses, resumed_from=context.resumed_from,
                 stopped_early=context.stopped_early,
                 last_epoch=len(context.losses) - 1 if context.losses else None,
                 wall_time_s=time.monotonic() - started, provenance=provenance(),
                 finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    state.pop("pid", None)
    write_json(files.job, state, indent=1, default=str)
    return state


