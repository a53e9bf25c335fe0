"""benchmarks/profile_work.py: the fitting work a suite's profile asks for, which the projections multiply."""
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from profile_work import Fits, TracePoints, network_of, profile_work  # noqa: E402

from bench.planning.cells import expand  # noqa: E402
from bench.planning.suite import load_suite  # noqa: E402


def _cell(name, params=None, iterations=None, trace_every=0, all_metrics=False, seconds=1.0, metrics=("snr",)):
    protocol = {} if iterations is None else {"iterations": iterations, "trace_every": trace_every,
                                              "trace_all_metrics": all_metrics}
    return SimpleNamespace(method={"name": name, "params": params or {}}, dataset={"seconds": seconds},
                           config={"protocol": protocol, "metrics": [{"name": m} for m in metrics]})


def test_fits_and_trace_points_are_counted_per_network_and_clip_length():
    cells = [_cell("unet-conv", iterations=100, trace_every=20),
             _cell("unet-conv", iterations=50, trace_every=0),
             _cell("unet-conv", iterations=100, seconds=2.0, trace_every=25, all_metrics=True),
             _cell("dap-separation", {"prior": "exp"}, iterations=10, trace_every=5, metrics=("bss_v4",)),
             _cell("waveform-demucs", {"variant": "conv2"}, iterations=30),
             _cell("waveform-demucs", iterations=30),
             _cell("wave-unet", iterations=7),
             _cell("identity"), _cell("spectral-wiener")]
    iterations, points = profile_work(cells)
    assert iterations == {Fits("spectral", "conv", 1.0): 150, Fits("spectral", "conv", 2.0): 100,
                          Fits("spectral", "exp", 1.0): 30,  # three priors per separation cell
                          Fits("demucs", "conv2", 1.0): 30, Fits("demucs", "demucs", 1.0): 30,
                          Fits("wave-unet", "wave-unet", 1.0): 7}
    assert points == {TracePoints(("snr",), False, 1.0): 5, TracePoints(("snr",), True, 2.0): 4,
                      TracePoints(("bss_v4",), False, 1.0): 2}


@pytest.mark.parametrize("suite", ["narayanaswamy2021", "waveform-prior"])
def test_every_fitted_method_of_the_paper_suites_is_a_known_network(suite):
    """A new deep prior in a paper suite must not drop out of the projections unnoticed."""
    cells = expand(load_suite(suite), "paper", synthetic=True)
    fitted = [c for c in cells if c.config["protocol"].get("iterations")]
    assert fitted and all(network_of(c.method) is not None for c in fitted)
    iterations, _ = profile_work(cells)
    assert sum(iterations.values()) >= sum(c.config["protocol"]["iterations"] for c in fitted)
