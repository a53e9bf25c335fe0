import os
import shutil
import sys
from pathlib import Path

import pytest

# Test-only methods and datasets, registered through $BENCH_PLUGINS so that worker processes (which
# inherit the environment) register them too. Set before anything starts a worker pool.
PLUGINS = Path(__file__).parent / "plugins"
os.environ["BENCH_PLUGINS"] = "bench_test_plugins"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(PLUGINS))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``ffmpeg`` decode .stem.mp4 files, which needs the programs; a user's install may lack
    them (nothing else in bench does), so without them those tests skip."""
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    skip = pytest.mark.skip(reason="needs the ffmpeg and ffprobe programs (MUSDB18 .stem.mp4 files)")
    for item in items:
        if "ffmpeg" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"


def write_suite(directory: Path, text: str, name: str = "t") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text)
    return path
