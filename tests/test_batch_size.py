"""The batch of deep-prior problems fitted at once: from the device's free memory, or $BENCH_PRIOR_BATCH."""
import pytest

from bench.components.fitting import GPU_BATCH_CAP, batch_for_memory, batch_override

MB = 2 ** 20


def test_the_largest_power_of_two_that_fits_in_the_fraction_of_free_memory():
    assert batch_for_memory(100 * MB, 1000 * MB, fraction=0.7) == 4  # 7 fit: 4 is the power of two below
    assert batch_for_memory(100 * MB, 1000 * MB, fraction=0.8) == 8  # exactly 8 fit
    assert batch_for_memory(100 * MB, 1000 * MB, fraction=0.79) == 4
    assert batch_for_memory(1 * MB, 80_000 * MB, fraction=0.7) == GPU_BATCH_CAP
    assert batch_for_memory(1 * MB, 80_000 * MB, cap=12) == 8  # a power of two under the cap
    assert batch_for_memory(5000 * MB, 1000 * MB) == 1  # too large for the device: alone, as before


def test_a_larger_problem_or_less_free_memory_never_gets_a_larger_batch():
    sizes = [batch_for_memory(p * MB, 24_000 * MB) for p in (50, 100, 400, 1600, 6400, 30000)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == GPU_BATCH_CAP and sizes[-1] == 1
    frees = [batch_for_memory(300 * MB, f * MB) for f in (500, 2000, 8000, 80_000)]
    assert frees == sorted(frees) and frees[0] == 1


def test_the_environment_overrides_and_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.delenv("BENCH_PRIOR_BATCH", raising=False)
    assert batch_override() is None
    monkeypatch.setenv("BENCH_PRIOR_BATCH", "12")
    assert batch_override() == 12
    monkeypatch.setenv("BENCH_PRIOR_BATCH", "eight")
    with pytest.raises(ValueError, match="BENCH_PRIOR_BATCH"):
        batch_override()


def test_channels_last_inputs_to_the_batched_fit_give_the_same_fit_in_float64():
    """vmap's grouped convolutions take NHWC inputs (the batched path's channels-last): same result."""
    from functools import partial

    import torch
    from bench.methods.networks.spectral_unet import SpectralUNet, make_design

    from bench.components.fitting import Ensemble, Precision, Schedule, fit

    build = partial(SpectralUNet, make_design("conv"))
    g = torch.Generator().manual_seed(0)
    inputs, targets = (torch.randn(3, 2, 32, 16, generator=g, dtype=torch.float64) for _ in range(2))

    def objective(outputs, step):
        return ((outputs - targets) ** 2).mean(dim=(1, 2, 3))

    torch.set_default_dtype(torch.float64)
    try:
        runs = [fit(Ensemble(build, [1, 2, 3]), inputs, objective, Schedule(iterations=3),
                    precision=Precision(channels_last=layout)) for layout in (False, True)]
    finally:
        torch.set_default_dtype(torch.float32)
    assert torch.max(torch.abs(runs[0] - runs[1])) <= 1e-12  # observed: bit-identical
