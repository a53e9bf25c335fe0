"""Metric throughput: seconds of audio each metric scores per second of CPU time (one thread).

Run: OMP_NUM_THREADS=1 pytest benchmarks/test_metric_throughput.py --benchmark-only
The clips are 4 s of synthetic speech at 16 kHz (and at 44.1 kHz for the resampling cost of PESQ); BSS Eval
scores a set of two such sources. "audio_s_per_s" in extra_info (and the printed line) is the number of
seconds of audio per source scored per second of wall time: for BSS Eval, of the whole two-source set.
"""
import numpy as np
import pytest
import soxr
from bench.datasets.synthetic import piano_like, speech_like

from bench.metrics import get_metric

SECONDS = 4.0


def pair(sr: int):
    rng = np.random.default_rng(0)
    clean = speech_like(int(SECONDS * 16000), 16000, rng)
    clean = 0.5 * clean / np.max(np.abs(clean))
    noisy = clean + 0.03 * rng.standard_normal(clean.size)
    if sr != 16000:
        clean, noisy = soxr.resample(clean, 16000, sr), soxr.resample(noisy, 16000, sr)
    return clean, noisy


def sources(sr: int = 16000):
    rng = np.random.default_rng(1)
    n = int(SECONDS * sr)
    references = np.stack([speech_like(n, sr, rng), piano_like(n, sr, rng)])
    references /= np.max(np.abs(references), axis=1, keepdims=True)
    estimates = references + 0.2 * references[::-1] + 0.05 * rng.standard_normal(references.shape)
    return references, estimates[::-1].copy()


def measure(benchmark, name, reference, estimate, sr):
    metric = get_metric(name)
    benchmark.pedantic(metric.compute, args=(reference, estimate, sr), rounds=5, iterations=1, warmup_rounds=1)
    rate = SECONDS / benchmark.stats.stats.mean
    benchmark.extra_info["audio_s_per_s"] = rate
    print(f"\n{name} at {sr} Hz: {rate:.1f} s of audio per second ({benchmark.stats.stats.mean * 1e3:.0f} ms "
          f"for {SECONDS:.0f} s)")


@pytest.mark.parametrize("name, sr", [("pesq_wb", 16000), ("pesq_nb", 16000), ("pesq_wb", 44100), ("stoi", 16000),
                                      ("spectral_snr", 16000), ("si_sdr", 16000)])
def test_single_signal_metric_throughput(benchmark, name, sr):
    measure(benchmark, name, *pair(sr), sr)


@pytest.mark.parametrize("name", ["bss_v4", "bss_v3"])
@pytest.mark.parametrize("sr", [16000, 44100])
def test_bss_eval_throughput(benchmark, name, sr):
    measure(benchmark, name, *sources(sr), sr)
