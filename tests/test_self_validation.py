"""Self-validation (a prior's ``holdout``): the split of the observed entries, a fit that never sees the
held-out samples, their loss in the trace, and the ``blind:holdout`` rule that reads it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.analysis.stopping import HOLDOUT_PATIENCE, BlindTrace, NotApplicable, holdout
from bench.components.fitting import FittedPrior, Problems, Schedule, hold_out
from bench.components.method import RunContext, build_method
from bench.core.audio import Observation
from bench.planning.cells import expand
from bench.planning.suite import parse_suite
from bench.running.worker import run_cell


# -- the split ------------------------------------------------------------------------------------------
def test_the_split_partitions_the_observed_entries_and_leaves_gaps_out():
    mask = torch.ones(1000)
    mask[100:200] = 0  # a gap: neither fitted nor held out
    tensors = {"signal": torch.arange(1000.0), "mask": mask}
    fit, held = hold_out(tensors, ["mask"], 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(fit["signal"], tensors["signal"]) and torch.equal(held["signal"], tensors["signal"])
    assert torch.equal(fit["mask"] + held["mask"], mask)  # every observed sample in exactly one part
    assert int(held["mask"].sum()) == 90  # 10 % of the 900 observed samples
    assert not held["mask"][100:200].any()
    again, _ = hold_out(tensors, ["mask"], 0.1, torch.Generator().manual_seed(3))
    other, _ = hold_out(tensors, ["mask"], 0.1, torch.Generator().manual_seed(4))
    assert torch.equal(again["mask"], fit["mask"]) and not torch.equal(other["mask"], fit["mask"])
    _, tiny = hold_out(tensors, ["mask"], 1e-6, torch.Generator().manual_seed(3))
    assert int(tiny["mask"].sum()) == 1  # at least one sample, or the held-out loss means nothing


def test_holdout_is_a_fraction_and_needs_a_prior_with_loss_weights():
    with pytest.raises(ValueError, match="fraction"):
        build_method("waveform-demucs", {"holdout": 1.0})

    class WithoutLossWeights(FittedPrior):  # a prior that names no loss weight has nothing to hold out
        tasks = ("denoising",)

    assert WithoutLossWeights().holdout == 0.0
    with pytest.raises(ValueError, match="cannot hold"):
        WithoutLossWeights(holdout=0.1)


# -- the fit ----------------------------------------------------------------------------------------------
def _fit(method, signal, seed=7, iterations=4):
    stats, traced = {}, {}
    context = RunContext(seed=seed, protocol={**method.protocol_defaults, "iterations": iterations, "trace_every": 1},
                         trace_callback=traced.__setitem__, fit_stats_callback=stats.__setitem__)
    estimate = method.restore(Observation(signal, 16000, "denoising"), context)
    return estimate.signal, stats


def _held_samples(method, signal, seed=7):
    """The samples the prior holds out for a cell of method seed ``seed`` (its fourth seed word)."""
    words = np.random.SeedSequence(seed).generate_state(4)
    tensors = method.problem_tensors(Observation(signal, 16000, "denoising"))
    _, held = hold_out(tensors, method.loss_weights, method.holdout, torch.Generator().manual_seed(int(words[3])))
    return held["mask"].numpy() > 0


def test_the_fit_never_sees_the_held_out_samples_and_reports_their_loss():
    """Changing the observation on the held-out samples only leaves the fit unchanged (a prior that still fitted
    them would move) and changes only the held-out loss."""
    method = build_method("waveform-demucs", {"holdout": 0.2})
    rng = np.random.default_rng(0)
    signal = (0.1 * rng.standard_normal(2048)).astype(np.float32)
    held = _held_samples(method, signal)
    changed = signal.copy()
    changed[held] += 0.5
    first, first_stats = _fit(method, signal)
    second, second_stats = _fit(method, changed)
    np.testing.assert_array_equal(first, second)
    assert [s["loss"] for s in first_stats.values()] == [s["loss"] for s in second_stats.values()]
    assert all(a["heldout_loss"] != b["heldout_loss"] for a, b in zip(first_stats.values(), second_stats.values()))
    # the held-out loss is the prior's own loss (L1) over those samples
    assert first_stats[4]["heldout_loss"] == pytest.approx(float(np.abs(first - signal)[held].mean()), rel=1e-5)
    full, full_stats = _fit(build_method("waveform-demucs", {}), signal)
    assert not np.array_equal(full, first) and "heldout_loss" not in full_stats[4]


def test_a_spectral_prior_holds_time_frequency_bins_of_known_frames_out():
    method = build_method("unet-conv", {"holdout": 0.25})
    signal = (0.1 * np.random.default_rng(1).standard_normal(2048)).astype(np.float32)
    _, stats = _fit(method, signal, iterations=2)
    assert set(stats[2]) == {"loss", "heldout_loss"} and stats[2]["heldout_loss"] != stats[2]["loss"]
    mask = np.ones(2048, np.float32)
    mask[1000:1400] = 0  # a gap: its frames are neither fitted nor held out
    observation = Observation(signal * mask, 16000, "inpainting", known={"mask": mask})
    tensors = method.problem_tensors(observation)
    fit, held = hold_out(tensors, method.loss_weights, 0.25, torch.Generator().manual_seed(0))
    known = tensors["frame_mask"] > 0
    assert 0 < int(known.sum()) < known.numel()
    bins = tensors["spectrogram"].shape[-2] * int(known.sum())
    assert int(held["bin_mask"].sum()) == round(0.25 * bins) and not held["bin_mask"][:, ~known].any()
    # the loss over the fitted and the held-out bins, weighted by their counts, is the loss over all
    outputs = torch.randn(1, *tensors["spectrogram"].shape, generator=torch.Generator().manual_seed(2))
    schedule = Schedule(iterations=1)

    def loss(t):
        batch = Problems([observation], [None], torch.device("cpu"), {k: v[None] for k, v in t.items()})
        return float(method.objective(outputs, batch, 0, schedule))

    kept = bins - int(held["bin_mask"].sum())
    assert (kept * loss(fit) + (bins - kept) * loss(held)) / bins == pytest.approx(loss(tensors), rel=1e-5)


# -- the rule ---------------------------------------------------------------------------------------------
def _trace(heldout):
    its = list(range(10, 10 * (len(heldout) + 1), 10))
    return BlindTrace(its, [None] * len(its), [None] * len(its), [None] * len(its), heldout_loss=heldout)


def test_holdout_takes_the_minimum_of_the_held_out_loss_once_its_patience_has_passed():
    falling = [5.0, 4.0, 3.0, 2.0]
    rising = [2.5 + 0.1 * k for k in range(HOLDOUT_PATIENCE)]
    assert holdout(_trace(falling + rising)) == 40  # lower is better: the minimum, not the maximum
    assert holdout(_trace(falling + rising[:-1])) == 10 * (len(falling) + len(rising) - 1)  # not yet: the end
    assert holdout(_trace([None, *falling, *rising])) == 50  # untraced points are skipped


def test_holdout_waits_until_the_fit_has_started():
    # a silent start (residual = the observation's power) whose held-out loss is flat, then the fit
    heldout = [1.0] * 12 + [0.5, 0.4, 0.3] + [0.35] * HOLDOUT_PATIENCE
    residual = [1.0] * 12 + [0.5] * (3 + HOLDOUT_PATIENCE)
    its = list(range(len(heldout)))
    trace = BlindTrace(its, [None] * len(its), residual, [None] * len(its), observation_power=1.0, heldout_loss=heldout)
    assert holdout(trace) == 14
    early = BlindTrace(its, [None] * len(its), residual, [None] * len(its), heldout_loss=heldout)
    assert holdout(early) == 0  # without the observation's power it would stop in the silent start


def test_holdout_does_not_apply_to_a_fit_that_held_nothing_out():
    with pytest.raises(NotApplicable, match="holdout"):
        holdout(BlindTrace([10, 20], [1.0, 0.5], [None, None], [None, None]))
    assert BlindTrace.from_trace([{"iteration": 1, "scores": {}, "stats": {"loss": 1.0}}]).heldout_loss is None


SUITE = """
name = "selfval"
items = 1
seconds = 0.25
metrics = ["snr"]
select = "oracle:snr"
[protocol]
iterations = 30
trace_every = 2
[[methods]]
name = "waveform-demucs"
params = { holdout = 0.1 }
protocol = { lr = 0.003 }
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


def test_the_record_keeps_the_held_out_loss_and_the_self_validation_pick():
    import tomllib

    [cell] = expand(parse_suite(tomllib.loads(SUITE)))
    record = run_cell(cell)
    assert record["status"] == "ok", record["error"]
    stats = [p["stats"] for p in record["trace"]]
    assert all(s["heldout_loss"] is not None for s in stats)
    pick = record["selected"]["blind:holdout"]
    assert pick["iteration"] in {p["iteration"] for p in record["trace"]}
    expected = holdout(BlindTrace.from_trace(record["trace"]))
    assert pick["iteration"] == expected and pick["scores"]["snr"] is not None
