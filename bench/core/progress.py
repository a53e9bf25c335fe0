"""Progress of long fits, from the worker processes to the run's progress display.

A worker's fit calls ``RunContext.progress(iteration, total, loss)`` every iteration; ``FitProgress``
keeps at most a few of those a second and writes the latest (cell key, iteration, total, loss, time left)
to one small file per worker process, in the folder named by ``$BENCH_PROGRESS_DIR``. The parent's
``ProgressBoard`` sets that variable before it starts any worker (so they inherit it, whatever pool starts
them) and polls the folder; ``watch`` shows what it reads in the progress bar's postfix. The loss is a
callable, read only when an update is written, so a GPU fit synchronises with the host a few times a
second at most.

``progress_bar`` is the one progress display of a run's cells or training jobs: a redrawn bar on a terminal, and on
anything else (a log file, a pipe) a plain line now and then, never the carriage-return redraws.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from bench.core.files import write_json

PROGRESS_DIR_ENV = "BENCH_PROGRESS_DIR"
UPDATES_PER_SECOND = 4
LOG_LINE_EVERY_S = 60.0  # off a terminal, at most one line a minute once the run is 10 minutes old


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
            write_json(self.path, update)
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


def progress_bar(total: int, unit: str, enabled: bool = True, desc: str | None = None, stream=None):
    """The progress display on ``stream`` (standard error): ``update(n)``, ``set_postfix_str(text)``, a
    settable ``total`` and ``close()``, as tqdm's."""
    stream = stream or sys.stderr
    if enabled and not _is_terminal(stream):
        return LogLines(total, unit, desc, stream)
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=not enabled, file=stream, dynamic_ncols=True,
                smoothing=0.1, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")


class LogLines:
    """The display for a log: ``training: 3/10 jobs [2m05s] ...``, when something changed, at most once in a
    tenth of the time elapsed (from once a second to once every ``every_s``), and the last count at ``close``:
    a few hundred lines for a day's run."""

    def __init__(self, total: int, unit: str, desc: str | None, stream, every_s: float = LOG_LINE_EVERY_S):
        self.total, self.unit, self.desc, self.stream, self.every_s = total, unit, desc, stream, every_s
        self.n, self.postfix = 0, ""
        self.started = self.last = time.monotonic()
        self.written: tuple | None = None
        self.lock = threading.Lock()  # the watcher thread and the run both report

    def update(self, n: int = 1) -> None:
        self.n += n
        self._maybe_write()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        self._maybe_write()

    def close(self) -> None:
        self._maybe_write(force=True)

    def _maybe_write(self, force: bool = False) -> None:
        with self.lock:
            now = time.monotonic()
            every = min(self.every_s, max(1.0, (now - self.started) / 10))
            if (self.n, self.total, self.postfix) == self.written or not force and now - self.last < every:
                return
            self.last, self.written = now, (self.n, self.total, self.postfix)
            line = f"{self.n}/{self.total} {self.unit}s [{_duration(now - self.started)}] {self.postfix}".rstrip()
            print(f"{self.desc}: {line}" if self.desc else line, file=self.stream, flush=True)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
