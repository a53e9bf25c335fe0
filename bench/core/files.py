"""Atomic file writes: a reader sees the old file or the whole new one, never half of one.

Every write goes to a temporary file in the target's folder and is renamed over the target; a failed write
removes the temporary file and leaves the target as it was. An ``OSError`` (a full disk, a read-only folder)
names the target's path, since the error of a rename or of a write to a full disk names no file of its own.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


class CannotWrite(OSError):
    """A write that failed for the machine's reason (full disk, read-only folder, a file where a folder should
    be), naming the file that could not be written: an environment error, whatever its errno."""


def write_with(path: str | os.PathLike, writer: Callable[[IO[bytes]], Any], *, durable: bool = False) -> Path:
    """Write ``path`` atomically by ``writer(file)``, given the temporary file open for binary writing
    (``lambda f: torch.save(obj, f)``, ``lambda f: np.savez(f, ...)``). ``durable``: flushed to the disk
    before the rename, so a machine crash cannot leave an empty file under the final name."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except FileExistsError:  # a file stands where a folder is needed
        blocking = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent)
        raise CannotWrite(errno.ENOTDIR, f"cannot write: {blocking} is a file, not a folder", str(path)) from None
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise
    return path


def write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> Path:
    return write_with(path, lambda f: f.write(data), durable=durable)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), durable=durable)


def write_json(path: str | os.PathLike, obj: Any, *, durable: bool = False, **dumps) -> Path:
    """``obj`` as JSON; ``dumps`` go to ``json.dumps`` (``indent``, ``default``, ``allow_nan``). The text is
    made before the file is opened, so an object that cannot be written leaves no trace."""
    return write_text(path, json.dumps(obj, **dumps), durable=durable)


def write_torch(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save(obj)`` atomically: a checkpoint is never seen half written."""
    import torch

    return write_with(path, lambda f: torch.save(obj, f))


def _naming(exc: OSError, path: Path) -> CannotWrite:
    return CannotWrite(exc.errno, f"cannot write ({exc.strerror or exc})", str(path))
