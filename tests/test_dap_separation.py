"""DAP separation: the networks' outputs, sources that sum to the mixture, the loss terms, a run end to end."""
import numpy as np
import pytest
import torch
from bench.methods.dap_separation import exclusion

from bench.components.dataset import build_dataset
from bench.components.fitting import Problems, Schedule
from bench.components.method import RunContext, build_method
from bench.core.audio import Observation
from bench.core.protocol import resolve
from bench.corruptions import build_corruption

LENGTH = 1600


def _mixture_problems(method, seed=0):
    rng = np.random.default_rng(seed)
    obs = Observation((rng.standard_normal(LENGTH) * 0.2).astype(np.float32), 16000, "separation",
                      known={"num_sources": 2})
    tensors = {k: v[None] for k, v in method.problem_tensors(obs).items()}
    return obs, Problems([obs], [None], torch.device("cpu"), tensors)


@pytest.mark.parametrize("name,channels,priors", [("dap-separation", 5, 3), ("dap-separation-tian", 4, 4)])
def test_network_outputs_and_inputs(name, channels, priors):
    method = build_method(name, {"prior": "conv"})
    net = method.network()
    obs, _ = _mixture_problems(method)
    shape = method.input_shape(obs)
    assert shape[0] == priors == net.priors
    assert net(torch.randn(1, *shape)).shape == (1, channels, *shape[2:])


@pytest.mark.parametrize("name,channels", [("dap-separation", 5), ("dap-separation-tian", 4)])
def test_sources_sum_to_the_fitted_mixture(name, channels):
    """m s1 + (1 - m) s2 (or m1 s1 + m2 s2): the two returned sources add up to the fitted mixture exactly."""
    method = build_method(name, {"prior": "conv"})
    _, problems = _mixture_problems(method)
    mixture = problems.tensors["spectrogram"]
    outputs = torch.randn(1, channels, *mixture.shape[2:], dtype=torch.float64,
                          generator=torch.Generator().manual_seed(0))
    sources = method.signals(outputs, problems)
    fitted = method.frame.synthesise(method.estimates(outputs, mixture.double()).sum(1), LENGTH)
    assert sources.shape == (1, 2, LENGTH)
    # up to rounding: the mixture's STFT (its phase, for magnitude sources) is float32 (observed ~2e-9)
    assert torch.allclose(sources.sum(1), fitted, atol=1e-7)
    s, masks, _ = method.decode(outputs, mixture.double())
    if name == "dap-separation":
        assert torch.allclose(masks.sum(1), torch.ones(()).double())  # complementary masks
    else:  # temporal gates: one value per frame
        assert torch.all(masks[..., :1, :] == masks)


def test_with_mixture_consistency_the_sources_sum_to_the_observed_mixture():
    method = build_method("dap-separation", {"prior": "conv", "consistency": True})
    obs, problems = _mixture_problems(method)
    outputs = torch.randn(1, 5, *problems.tensors["spectrogram"].shape[2:])
    sources = method.signals(outputs, problems)
    assert torch.allclose(sources.sum(1)[0], torch.from_numpy(obs.signal), atol=1e-5)


def test_exclusion_is_small_for_disjoint_sources_and_large_for_identical_ones():
    a = torch.zeros(1, 1, 32, 32)
    b = torch.zeros(1, 1, 32, 32)
    a[..., :16, :] = torch.rand(16, 32) * 10
    b[..., 16:, :] = torch.rand(16, 32) * 10
    disjoint, identical = exclusion(a, b), exclusion(a, a)
    assert disjoint.shape == (1,)
    assert disjoint < 0.5 * identical


def test_binarisation_only_in_the_last_tenth():
    method = build_method("dap-separation", {"prior": "conv"})
    _, problems = _mixture_problems(method)
    outputs = torch.zeros(1, 5, *problems.tensors["spectrogram"].shape[2:])  # masks at 0.5 exactly
    schedule = Schedule(iterations=100)
    early, late = method.objective(outputs, problems, 89, schedule), method.objective(outputs, problems, 90, schedule)
    assert late - early > 1000  # 0.01 / (1e-6 + 0): the binarisation term switched on


def test_the_harness_refuses_more_than_two_sources():
    method = build_method("dap-separation")
    obs = Observation(np.zeros(LENGTH, np.float32), 16000, "separation", known={"num_sources": 3})
    with pytest.raises(ValueError, match="two sources"):
        method.problem_tensors(obs)


def test_separation_runs_end_to_end_on_a_synthetic_mixture():
    stack = build_dataset("stack", {"sources": [{"name": "synthetic-piano"}, {"name": "synthetic-drums"}]})
    clip = stack.load(stack.select(1)[0], sr=16000, seconds=0.1, rng=np.random.default_rng(0))
    obs = build_corruption("mixture", {"ratio_db": 0}).apply(clip, np.random.default_rng(1))
    seen = []
    method = build_method("dap-separation", {"prior": "exp-dense"})
    context = RunContext(seed=5, protocol=resolve(method.protocol_defaults, {"iterations": 3, "trace_every": 1}),
                         trace_callback=lambda i, s: seen.append((i, s.shape)))
    estimate = method.restore(obs.for_method(), context)
    assert estimate.signal.shape == obs.reference.shape == (2, 1600)
    assert np.all(np.isfinite(estimate.signal))
    assert seen == [(1, (2, 1600)), (2, (2, 1600)), (3, (2, 1600))]


def test_details_list_the_priors():
    details = build_method("dap-separation", {"prior": "exp-dense"}).details()
    assert details["parameters"] > 3 * 700_000
    assert details["source prior dilations"] == "2,4 8,16 32,32 16,8 4,2"
