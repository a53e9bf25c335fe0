"""BSS Eval SDR / SIR / SAR over a set of sources, in the two versions the papers cite.

- ``bss_v4`` (outputs sdr_v4, sir_v4, sar_v4): BSS Eval version 4 as in the SiSEC 2018 campaign (Stöter,
  Liutkus and Ito), the definition the spectral-prior paper cites, computed by ``museval.metrics.bss_eval``:
  image-based decomposition (``bsseval_sources_version=False``), 512-tap distortion filters estimated once
  on the whole signal (``framewise_filters=False``), metrics in 1 s windows with 1 s hop (SiSEC's 1 s at
  the clip's own rate), and each source's value the median over its windows (the SiSEC track score).
  Windows where a reference or an estimate is exactly silent are undefined (NaN) and left out of the median;
  a clip shorter than 1 s is one window. In v4 the SDR of a source is its plain SNR, 10 log10(|s|^2 /
  |s_hat - s|^2), per window.
- ``bss_v3`` (outputs sdr_v3, sir_v3, sar_v3): BSS Eval version 3, ``bss_eval_sources`` of Vincent,
  Gribonval and Févotte (2006), the definition the style-transfer paper cites: one decomposition over the
  whole signal, the target being the reference filtered by a 512-tap filter. Computed by fast_bss_eval's
  torch backend in float64 (its numpy backend fails under numpy 2); mir_eval.separation gives the same
  numbers (the tests check it) but is deprecated.

v4 and v3 disagree on band-limited references: with a piano reference 110 dB down above 7.5 kHz and the
estimate s1 + 0.25 s2 (true SIR 12.0 dB), v4's SIR is 3.98 dB and v3's 12.07 dB (tests/test_metrics_bss_eval.py
reproduces such a case). Where a suite scores both, a check
(``SIR_DISAGREEMENT_DB``) adds a warning to the record's metric_errors (``sir_v4_vs_v3``) when a source's v4
and v3 SIRs differ by more than that; the scores stay.

Both resolve the permutation of the estimates: the order that maximises the mean SIR (each library's
own rule), since an unsupervised separator cannot know which output is which source. ``bss_v3_fixed``
(outputs sdr_v3_fixed, ...) is v3 without it, estimate k against reference k: for a targeted extraction.
Outputs are the mean
over sources; ``<output>_src<k>`` holds the value of reference source k (see bench.metrics).

Undefined, in both versions alike:
- A single-source task (T,) is not a separation: both metrics are "not applicable" there (the reason in the
  record's metric_errors, the cell's other metrics kept); its SNR and SI-SDR are the metrics that apply.
- An output whose residual is below ``MAX_RELATIVE_RESIDUAL`` of its numerator's energy (above
  ``MAX_RATIO_DB``), or not finite, has no finite true value: the SAR of an estimate equal to the mixture
  (the sum of the references), every ratio of an estimate equal to its reference. Its computed value is
  rounding noise (measured 143 to 152 dB in v3, 300 to 314 dB in v4, or NaN, depending on the CPU's
  kernels), so it is recorded as undefined (``Undefined``: None, with the reason in metric_errors), and the
  mean over sources with it. The threshold: 120 dB is a residual a million times below the target in
  amplitude, under the 24-bit and float32 resolution of audio (2^-24, -144 dB) times the 512-tap
  projection's error, and far above any real method's score (tens of dB).
"""
from __future__ import annotations

import functools
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np

from bench.metrics import CROSS_CHECKS, MetricNotApplicable, MetricUndefined, Output, Undefined, metric, source_output

FILTER_LENGTH = 512  # distortion filter taps, the BSS Eval default in both versions
V4_WINDOW_SECONDS = 1.0
SIR_DISAGREEMENT_DB = 3.0  # a few dB: past the two versions' ordinary differences (windows, filters)
MAX_RATIO_DB = 120.0  # above it a ratio's denominator is rounding noise (see the module docstring)
MAX_RELATIVE_RESIDUAL = 10 ** (-MAX_RATIO_DB / 10)


def _sources(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    references, estimates = np.atleast_2d(reference), np.atleast_2d(estimate)
    if len(references) < 2:
        raise MetricNotApplicable("BSS Eval scores a separation of two or more sources; this task has one "
                                  "(its SNR and SI-SDR apply)")
    for label, signals in (("reference", references), ("estimated", estimates)):
        silent = [k + 1 for k, s in enumerate(signals) if not np.any(s)]
        if silent:
            raise MetricUndefined(f"BSS Eval is undefined when a source is silent ({label} source {silent})")
    _check_independent(references)
    return references, estimates


def _check_independent(references: np.ndarray) -> None:
    """BSS Eval projects onto the span of the references: a reference that is a copy or a weighted sum of
    the others leaves the projection singular, and which source an estimate belongs to undefined."""
    for i in range(len(references)):
        for j in range(i + 1, len(references)):
            if np.array_equal(references[i], references[j]):
                raise MetricUndefined(f"BSS Eval is undefined when reference sources are identical "
                                      f"(sources {i + 1} and {j + 1})")
    if len(references) > 1 and np.linalg.matrix_rank(references) < len(references):
        raise MetricUndefined("BSS Eval is undefined when a reference source is a multiple or a weighted sum "
                              "of the others")


def _singular(version: str) -> MetricUndefined:
    return MetricUndefined(f"BSS Eval {version} is undefined here: the references' correlation matrix is singular "
                           "(a reference source is a delayed or filtered copy of another)")


def _outputs(suffix: str, sdr, sir, sar) -> dict[str, float]:
    """Each output's mean over sources and per-source values; a value past MAX_RATIO_DB or not finite is
    Undefined (and so is the mean over sources that includes it)."""
    outputs = {f"{name}_{suffix}": np.asarray(values, dtype=np.float64)
               for name, values in (("sdr", sdr), ("sir", sir), ("sar", sar))}
    undefined = {name: ~np.isfinite(values) | (values > MAX_RATIO_DB) for name, values in outputs.items()}
    which = [f"{name} (source {', '.join(str(k) for k in np.flatnonzero(bad) + 1)})"
             for name, bad in undefined.items() if bad.any()]
    reason = Undefined(f"{', '.join(which)} undefined: the residual is below {MAX_RELATIVE_RESIDUAL:g} of the "
                       f"signal's energy (over {MAX_RATIO_DB:g} dB, rounding noise): the estimate equals its "
                       "reference or the sum of the references")
    scores = {}
    for name, values in outputs.items():
        bad = undefined[name]
        scores[name] = reason if bad.any() else float(np.mean(values))
        scores.update({source_output(name, k): reason if b else float(v)
                       for k, (v, b) in enumerate(zip(values, bad), start=1)})
    return scores


def _output_specs(suffix: str, version: str) -> tuple[Output, ...]:
    return (Output(f"sdr_{suffix}", "dB", True, f"BSS Eval {version} signal-to-distortion ratio"),
            Output(f"sir_{suffix}", "dB", True, f"BSS Eval {version} signal-to-interference ratio"),
            Output(f"sar_{suffix}", "dB", True, f"BSS Eval {version} signal-to-artifacts ratio"))


@functools.cache
def _museval():
    """museval's own BSS Eval code (``museval/metrics.py``, which needs only numpy and scipy), loaded from
    the installed package without running ``museval/__init__.py``: that imports musdb, which imports
    stempeg, which refuses to import without the ffmpeg program; scoring arrays needs no audio decoding."""
    if "museval.metrics" in sys.modules:  # museval was imported in full (ffmpeg is here): the same code
        return sys.modules["museval.metrics"]
    package = importlib.util.find_spec("museval")  # locates the package without executing it
    if package is None or not package.submodule_search_locations:
        raise ModuleNotFoundError("BSS Eval v4 needs museval: pip install museval")
    path = Path(list(package.submodule_search_locations)[0]) / "metrics.py"
    spec = importlib.util.spec_from_file_location("bench.metrics._museval_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@metric("bss_v4", outputs=_output_specs("v4", "v4 (SiSEC 2018, museval)"), per_source=False, trace_safe=False,
        description="BSS Eval v4 (SiSEC 2018, museval): SDR, SIR, SAR, median over 1 s windows")
def bss_v4(reference, estimate, sr):
    references, estimates = _sources(reference, estimate)
    window = int(round(V4_WINDOW_SECONDS * sr))
    try:
        sdr, _isr, sir, sar, _perm = _museval().bss_eval(
            references[..., None], estimates[..., None], window=window, hop=window, compute_permutation=True,
            filters_len=FILTER_LENGTH, framewise_filters=False, bsseval_sources_version=False)
    except np.linalg.LinAlgError:
        raise _singular("v4") from None
    if np.all(np.isnan(sdr), axis=1).any():
        raise MetricUndefined("BSS Eval v4 is undefined: a source is silent in every 1 s window")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows were excluded above
        return _outputs("v4", *(np.nanmedian(values, axis=1) for values in (sdr, sir, sar)))


@metric("bss_v3", outputs=_output_specs("v3", "v3 (2006, bss_eval_sources)"), per_source=False,
        trace_safe=False, description="BSS Eval v3 (bss_eval_sources, 2006): SDR, SIR, SAR over the whole signal")
def bss_v3(reference, estimate, sr, permutation: bool = True):
    import fast_bss_eval
    import torch

    references, estimates = _sources(reference, estimate)
    # On more than one thread torch 2.13's CPU LU factorisation hands lu_solve invalid pivots ("Pivots given
    # to lu_solve must all be greater or equal to 1"): one thread for this call (a trained method's training
    # or a user's OMP_NUM_THREADS may have set more).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sdr, sir, sar, *_perm = fast_bss_eval.bss_eval_sources(
            torch.from_numpy(references), torch.from_numpy(estimates), filter_length=FILTER_LENGTH,
            zero_mean=False, compute_permutation=permutation, load_diag=None)
    except torch.linalg.LinAlgError:
        raise _singular("v3") from None
    finally:
        torch.set_num_threads(threads)
    return _outputs("v3" if permutation else "v3_fixed", sdr.numpy(), sir.numpy(), sar.numpy())


@metric("bss_v3_fixed", outputs=_output_specs("v3_fixed", "v3 (2006), estimates in the references' order,"),
        per_source=False, trace_safe=False,
        description="BSS Eval v3 without the permutation: estimate k against reference k (a targeted extraction)")
def bss_v3_fixed(reference, estimate, sr):
    """A method that extracts a named source (the female voice) is scored on that estimate, never on
    another output that happens to match the reference better."""
    return bss_v3(reference, estimate, sr, permutation=False)


def sir_versions_disagree(scores: dict) -> dict[str, str]:
    """{"sir_v4_vs_v3": warning} when some source's v4 and v3 SIRs differ by more than SIR_DISAGREEMENT_DB."""
    far = []
    for k in range(1, 1 + sum(1 for name in scores if name.startswith("sir_v4_src"))):
        v4, v3 = scores.get(source_output("sir_v4", k)), scores.get(source_output("sir_v3", k))
        if v4 is not None and v3 is not None and abs(v4 - v3) > SIR_DISAGREEMENT_DB:
            far.append(f"source {k}: v4 {v4:.2f} dB, v3 {v3:.2f} dB")
    if not far:
        return {}
    return {"sir_v4_vs_v3": f"BSS Eval v4 and v3 SIR differ by more than {SIR_DISAGREEMENT_DB:g} dB ("
                            + "; ".join(far) + "): v4 is unreliable on band-limited references, prefer v3"}


CROSS_CHECKS.append(sir_versions_disagree)
