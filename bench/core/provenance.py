"""Where a result came from: package and library versions, git commit, interpreter, accelerator."""
from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import bench


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    here = Path(bench.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=1)
def _static() -> dict:
    import numpy

    return {"bench": bench.__version__, "git_commit": git_commit(), "python": sys.version.split()[0],
            "numpy": numpy.__version__, "platform": platform.platform(), "host": platform.node()}


def provenance() -> dict:
    """Versions for a result record. torch is imported only if the method already did (it costs seconds)."""
    info = dict(_static())
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["cuda"] = torch.version.cuda
    else:
        try:
            info["torch"] = metadata.version("torch")
        except metadata.PackageNotFoundError:
            info["torch"] = None
    return info
