"""Clip preparation cost: a MUSDB18-like track decoded and resampled (cold) against the cached path.

Run: OMP_NUM_THREADS=1 pytest benchmarks/test_data_loading.py --benchmark-only
A 60 s, 44.1 kHz stereo track with vocals / drums / bass / other stems; a clip is 1 s of [vocals,
accompaniment] at 16 kHz. "cold" decodes and resamples the four stems (as the first cell of a run does);
"cached" reads them back from the clip cache (every later cell of the run). Compare the two as a ratio.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import corpus_fixtures as fx  # noqa: E402

from bench.components import corpus  # noqa: E402
from bench.components.dataset import build_dataset  # noqa: E402


@pytest.fixture(scope="module")
def track_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    folder = root / "musdb18" / "test" / "Long Track"
    for k, stem in enumerate(("vocals", "drums", "bass", "other", "mixture")):
        x = fx.signal("speech", 60, 44100, k)
        fx.write_wav(folder / f"{stem}.wav", np.stack([x, x]), 44100)
    return root


@pytest.mark.parametrize("cache", ["cold", "cached"])
def test_clip_preparation(benchmark, track_root, tmp_path, monkeypatch, cache):
    counter = iter(range(10_000))

    def prepare():
        if cache == "cold":  # a fresh cache directory each round: decode and resample everything
            monkeypatch.setenv("BENCH_CACHE", str(tmp_path / f"c{next(counter)}"))
        corpus._SCANS.clear()
        ds = build_dataset("musdb18", {"clips_per_file": 8}, track_root)
        return ds.load("test/Long Track#3", sr=16000, seconds=1.0)

    if cache == "cached":
        monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "warm"))
        prepare()
    clip = benchmark(prepare)
    assert clip.samples.shape == (2, 16000)
