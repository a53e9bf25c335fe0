import os
import sys
from pathlib import Path

# The benchmarks reuse the test-only plugins (a no-op method, a cheap tone dataset).
PLUGINS = Path(__file__).parent.parent / "tests" / "plugins"
os.environ["BENCH_PLUGINS"] = "bench_test_plugins"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(PLUGINS))
