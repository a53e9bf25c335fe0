"""Claims: a lease on a cell, so two ``bench run`` processes on one results folder never compute it twice.

Before a run dispatches a cell it creates ``<results>/claims/<key>.claim`` with ``O_CREAT | O_EXCL`` (atomic
on local and NFS file systems), holding the holder's pid, host, a token and a heartbeat time. A thread of
the holding process renews the heartbeat of every claim it holds every ``lease / 4`` seconds; the claim is
removed when the cell's record is written or the run ends. A claim whose holder is dead (same host, pid
gone) or whose heartbeat is older than the lease (any host) is stale, and the next run takes it over.
Take-overs, renewals and releases happen under an ``flock`` on the ``claims`` folder and check the token, so a
run never removes a claim it does not hold.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.core.files import write_bytes

DEFAULT_LEASE_S = 120.0


def lease_seconds() -> float:
    """``$BENCH_CLAIM_LEASE_S`` or 120 s: how long a claim lives without a heartbeat."""
    return float(os.environ.get("BENCH_CLAIM_LEASE_S", DEFAULT_LEASE_S))


@dataclass
class Holder:
    pid: int
    host: str
    token: str
    heartbeat: float

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


class Claims:
    """The claims of one run process on one results folder. Use as a context manager: on exit the
    heartbeat stops and every claim still held is released."""

    def __init__(self, root: str | os.PathLike, lease_s: float | None = None):
        self.dir = Path(root) / "claims"
        self.lease_s = lease_seconds() if lease_s is None else lease_s
        self.host = socket.gethostname()
        self.token = uuid.uuid4().hex
        self.held: set[str] = set()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- public -----------------------------------------------------------------------------------------
    def take(self, key: str) -> Holder | None:
        """Claim ``key``: None if it is now ours, else the live holder who has it."""
        if key in self.held:
            return None
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a claim released between our failed create and our read: try again
            if self._create(path):
                self.held.add(key)
                return None
            holder = self._holder(path)
            if holder is None:
                continue
            if not self.is_stale(holder):
                return holder
            with self._locked():
                if self._holder(path) == holder:  # nobody renewed or took it over meanwhile
                    path.unlink(missing_ok=True)
        return self._holder(path) or Holder(-1, "?", "", time.time())

    def holder(self, key: str) -> Holder | None:
        """The live holder of ``key``'s claim, or None (no claim, or a stale one)."""
        holder = self._holder(self._path(key))
        return None if holder is None or self.is_stale(holder) else holder

    def release(self, key: str) -> None:
        if key not in self.held:
            return
        self.held.discard(key)
        with self._locked():
            path = self._path(key)
            holder = self._holder(path)
            if holder is not None and holder.token == self.token:
                path.unlink(missing_ok=True)

    def is_stale(self, holder: Holder) -> bool:
        if time.time() - holder.heartbeat > self.lease_s:
            return True
        return holder.host == self.host and not _alive(holder.pid)

    def __enter__(self) -> "Claims":
        self._beat = threading.Thread(target=self._heartbeat, name="bench-claims", daemon=True)
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        for key in list(self.held):
            self.release(key)

    # -- internals --------------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.dir / f"{key}.claim"

    def _content(self) -> bytes:
        return json.dumps({"pid": os.getpid(), "host": self.host, "token": self.token,
                           "heartbeat": time.time()}).encode()

    def _create(self, path: Path) -> bool:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(self._content())
        return True

    def _holder(self, path: Path) -> Holder | None:
        try:
            data = json.loads(path.read_text())
            return Holder(int(data["pid"]), str(data["host"]), str(data["token"]), float(data["heartbeat"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # being written this instant, or garbage: treat as just created, so its lease applies
            try:
                return Holder(-1, "?", f"mtime:{path.stat().st_mtime}", path.stat().st_mtime)
            except FileNotFoundError:
                return None

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 4):
            for key in list(self.held):
                with self._locked():
                    path = self._path(key)
                    holder = self._holder(path)
                    if holder is None or holder.token != self.token:
                        self.held.discard(key)  # taken over after our lease expired: no longer ours
                        continue
                    write_bytes(path, self._content())

    @contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir, os.O_RDONLY)  # the folder itself is the lock: no lock file left behind
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown holder: only its lease can expire
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
