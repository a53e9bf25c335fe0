import os
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


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"


def write_suite(directory: Path, text: str, name: str = "t") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text)
    return path
