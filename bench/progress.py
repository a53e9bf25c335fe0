"""Progress of long fits, from the worker processes to the run's progress display.

A worker's fit calls ``RunContext.progress(iteration, total, loss)`` every iteration; ``FitProgress``
keeps at most a few of those a second and writes the latest (cell key, iteration, total, loss, time left)
to one small file per worker process, in the folder named by ``$BENCH_PROGRESS_DIR``. The parent's
``ProgressBoard`` sets that variable before it starts any worker (so they inherit it, whatever pool starts
them) and polls the folder; ``watch`` shows what it reads in the progress bar's postfix. The loss is a
callable, read only when an update is written, so a GPU fit synchronises with the host a few times a
second at most.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

PROGRESS_DIR_ENV = "BENCH_PROGRESS_DIR"
UPDATES_PER_SECOND = 4


class FitProgress:
    """Worker side: ``progress(iteration, total, loss)``; ``loss`` a number or a callable returning one."""

    def __init__(self, folder: Path, key: str, interval: float = 1 / UPDATES_PER_SECOND, unit: str = "it"):
        self.path = Path(folder) / f"{os.getpid()}.json"
        self.key, self.interval, self.unit = key, interval, unit
        self.started = time.monotonic()
        self.last = float("-inf")

    @classmethod
    def for_cell(cls, key: str) -> "FitProgress | None":
        folder = os.environ.get(PROGRESS_DIR_ENV)
        return cls(Path(folder), key) if folder else None

    def __call__(self, iteration: int, total: int, loss, unit: str | None = None) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and iteration < total:
            return
        self.last = now
        value = float(loss() if callable(loss) else loss)
        left = (now - self.started) / max(iteration, 1) * (total - iteration)
        update = {"key": self.key, "iteration": int(iteration), "total": int(total), "loss": value,
                  "seconds_left": left, "time": time.time(), "unit": unit or self.unit}
        try:  # atomic: the parent never reads half an update
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(update))
            os.replace(tmp, self.path)
        except OSError:
            pass  # progress is a courtesy: a vanished folder must not fail the cell


class ProgressBoard:
    """Parent side: the latest update of every worker whose cell has not finished yet."""

    def __init__(self):
        folder = os.environ.get(PROGRESS_DIR_ENV)
        if not folder:  # one folder per parent process, kept while it lives (pools may reuse workers)
            folder = tempfile.mkdtemp(prefix="bench-progress-")
            os.environ[PROGRESS_DIR_ENV] = folder
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.json"):
            stale.unlink(missing_ok=True)
        self.done: set[str] = set()

    def finished(self, key: str) -> None:
        self.done.add(key)

    def updates(self) -> list[dict]:
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                update = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if update.get("key") not in self.done:
                out.append(update)
        return out

    def text(self) -> str:
        """``it 340/2000 loss 0.0123 ~2m10s left`` for each fit in flight (the first three)."""
        return "  ".join(f"{u.get('unit', 'it')} {u['iteration']}/{u['total']} loss {u['loss']:.4g} ~{_duration(u['seconds_left'])} left"
                         for u in self.updates()[:3])


def watch(board: ProgressBoard, show: Callable[[], None], interval: float = 0.5) -> Callable[[], None]:
    """Call ``show()`` every ``interval`` seconds on a daemon thread; returns the function that stops it."""
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            show()

    thread = threading.Thread(target=loop, name="bench-progress", daemon=True)
    thread.start()

    def halt():
        stop.set()
        thread.join()

    return halt


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
