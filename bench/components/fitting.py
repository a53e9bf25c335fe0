"""The fitting engine for deep priors: fit many independent problems at once in one batched model.

A deep prior fits a small network to one observation for thousands of iterations, which leaves a GPU
mostly idle. Here B problems are fitted together: ``Ensemble(build, seeds)`` makes B copies of a network,
copy b initialised under seed b exactly as a network built alone under that seed, and evaluates them in
one call with ``torch.func.vmap`` (a convolution with per-problem weights becomes one grouped
convolution). The objective returns one loss per problem and the engine minimises their sum, so the
gradient of each problem's parameters is that problem's own gradient; Adam's state is elementwise, so
each problem's update is exactly the update of a separate fit (tests/test_fitting.py checks it).

``fit`` knows nothing about audio: it takes a network factory, fixed inputs, a per-problem objective and
a trace callback, and keeps host-device synchronisation out of the loop except at the iterations where the
trace callback asks for outputs. ``FittedPrior`` turns it into a harness Method: it groups the cells of a
batch, seeds each problem from its cell, and reports each problem's trace to its cell's context; on CUDA
its traced iterates travel to the host without blocking (``bench.components.host_copies``), so not even those wait.

Batch size. The scheduler hands a prior up to ``max_batch`` cells that share its configuration; that is
``$BENCH_PRIOR_BATCH`` if set, else ``GPU_BATCH_CAP`` when a GPU is visible, else 1 (on the CPU one process
per core beats batching). On CUDA without ``$BENCH_PRIOR_BATCH`` the worker then fits them in groups sized
from the device's memory: one probe step of a single problem measures its peak memory, and a group is the
largest power of two of problems that fits in a fraction of the free memory (``batch_for_memory``). Cells
of different clip lengths or protocols in one batch are fitted as separate groups. The batch size is not
part of a cell's key: it changes how a cell is computed (float rounding), not what.

Precision ``auto``: on CUDA and on CPUs that compute bf16 natively (AMX or AVX-512 BF16; elsewhere bf16 is
emulated and several times slower than float32) the first of bf16 channels-last, bf16 in the default layout
and float32 that a probe of the network at the clip's shape runs on this machine (``bench.components.precision_probe``);
float32 elsewhere. The method parameter ``precision = "fp32"`` turns bf16 off. The configuration is chosen
when a run is planned and is part of the cell key (``config["precision"]``); the worker re-checks it on its
machine before the fit (``FittedPrior.checked_precision``) and the record says what ran (``precision``).
tests/test_fitting.py bounds the bf16 difference; benchmarks/precision_tolerance.py measures it on real speech.

Self-validation: a prior given ``holdout = f`` (a method parameter) keeps a fraction f of the observed
entries of its loss out of the fit, chosen at random per problem (``hold_out``), and reports at every trace
point the same loss over them (``heldout_loss``): a blind stopping rule (bench.analysis.stopping, ``blind:holdout``)
stops where it no longer falls, as in Li et al.'s self-validation for deep image priors (2021). The prior
then fits (1 - f) of what it could, so its estimate differs from the full fit's: it is another cell.

Compilation: ``$BENCH_COMPILE=1`` (``bench run --compile``) fits with ``torch.compile``d forward and
backward passes. Compiling costs tens of seconds per process and network shape, paid back over a fit's
thousands of iterations only where a compiled iteration is faster (on an AVX2 CPU in float32 it was 1.6x
slower: README, Performance); the time of the first (compiling) iteration is the estimate's ``compile_s``.
Only single-problem fits are compiled: under vmap, torch 2.13's inductor computed the spectral U-Net's
convolution weight gradients wrong (off by 16 % to 200 % on the CPU, where its aot_eager backend matched to
5e-7), so a batched fit runs eagerly and its estimate says so (``compile_skipped``).
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from bench.components.host_copies import HostCopies
from bench.components.method import Method
from bench.components.precision_probe import compile_requested
from bench.core.audio import Estimate


@dataclass(frozen=True)
class Schedule:
    """Adam with an optional step decay: lr x ``lr_gamma`` every ``lr_step`` iterations (if set)."""

    iterations: int
    lr: float = 1e-3
    lr_step: int | None = None
    lr_gamma: float = 0.1

    @classmethod
    def from_protocol(cls, protocol) -> "Schedule":
        """The schedule of a resolved protocol (``bench.core.protocol``: every field present, nothing defaulted here)."""
        return cls(iterations=protocol["iterations"], lr=protocol["lr"], lr_step=protocol["lr_step"],
                   lr_gamma=protocol["lr_gamma"])

    def lr_at(self, iteration: int) -> float:
        if not self.lr_step:
            return self.lr
        return self.lr * self.lr_gamma ** (iteration // self.lr_step)


@dataclass(frozen=True)
class Precision:
    """Compute precision and memory layout.

    ``bf16``: the forward and backward passes run in bfloat16 (parameters and inputs are cast on the fly;
    Adam keeps float32 parameters and state; losses are computed in float32). The cast is explicit
    rather than ``torch.autocast`` because autocast does not reach operations under ``torch.func.vmap``
    (checked with torch 2.13: a vmapped conv2d under autocast stays float32), and the single and the
    batched path must compute the same thing. ``channels_last``: NHWC inputs and weights for the single
    network, NHWC inputs for the vmapped ensemble (its grouped convolutions give the same result,
    tests/test_batch_size.py; whether it is faster there on a GPU is not measured).
    ``resolve("auto", device)``: both on CUDA and on a CPU with native bf16 (``cpu_has_native_bf16``),
    neither elsewhere.
    """

    bf16: bool = False
    channels_last: bool = False

    @classmethod
    def resolve(cls, setting: str, device: str | torch.device, *, native_bf16: bool | None = None) -> "Precision":
        """``native_bf16``: whether a CPU device computes bf16 natively (default: ask this CPU)."""
        kind = torch.device(device).type
        if setting == "auto":
            fast = kind == "cuda" or (kind == "cpu" and (cpu_has_native_bf16() if native_bf16 is None
                                                         else native_bf16))
            return cls(bf16=fast, channels_last=fast)
        if setting == "fp32":
            return cls()
        if setting == "bf16":
            return cls(bf16=True, channels_last=True)
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', not {setting!r}")

    @classmethod
    def of(cls, candidate) -> "Precision":
        """The precision of a probed configuration (``bench.components.precision_probe.Candidate``)."""
        return cls(bf16=candidate.bf16, channels_last=candidate.channels_last)

    @property
    def dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.bf16 else None


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AMX tiles or AVX-512 BF16), where oneDNN runs bf16
    convolutions natively; without them bf16 is emulated (10x slower than float32 on an AVX2 EPYC)."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    if all(callable(probe) for probe in probes):
        return any(probe() for probe in probes)
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with torch's global generator seeded by ``seed`` (and restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _cast(tensors: dict[str, torch.Tensor], dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    if dtype is None:
        return tensors
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}


class Ensemble(nn.Module):
    """B independent copies of one network, called as one: inputs (B, *S) -> outputs (B, *O).

    Copy b is ``seeded(build, seeds[b])``; its parameters are slice b of every stacked parameter. Each copy
    sees its own problem as a batch of one, as it would in a separate fit. With one seed the network is
    called directly (no vmap): that is the "separate fit" the batched path is tested against. A network
    class with ``vmappable = False`` (one with an LSTM: torch 2.13 has no vmap batching rule for aten::lstm)
    is evaluated copy by copy instead, with the same stacked parameters and the same result.
    """

    def __init__(self, build: Callable[[], nn.Module], seeds: Sequence[int]):
        super().__init__()
        if not seeds:
            raise ValueError("an ensemble needs at least one seed")
        members = [seeded(build, seed) for seed in seeds]
        self.size = len(members)
        if self.size == 1:
            self.net = members[0]
            return
        params, buffers = stack_module_state(members)
        self._names, self._buffer_names = list(params), list(buffers)
        self.stacked = nn.ParameterList(nn.Parameter(params[name].detach().clone()) for name in self._names)
        for i, name in enumerate(self._buffer_names):
            self.register_buffer(f"stacked_buffer_{i}", buffers[name].clone())
        self.vmappable = getattr(members[0], "vmappable", True)
        self.__dict__["template"] = members[0].to("meta")  # holds no state: vmap feeds it each copy's tensors

    def _stacked_buffers(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"stacked_buffer_{i}") for i, name in enumerate(self._buffer_names)}

    def forward(self, inputs: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        if self.size == 1:
            net = self.net
            params = _cast(dict(net.named_parameters()), dtype)
            return functional_call(net, (params, dict(net.named_buffers())), (inputs.to(dtype or inputs.dtype),))
        params = _cast(dict(zip(self._names, self.stacked)), dtype)

        def one(p, b, x):
            return functional_call(self.template, (p, b), (x.unsqueeze(0),)).squeeze(0)

        buffers, inputs = self._stacked_buffers(), inputs.to(dtype or inputs.dtype)
        if not self.vmappable:
            return torch.stack([one({k: v[i] for k, v in params.items()}, {k: v[i] for k, v in buffers.items()},
                                    inputs[i]) for i in range(self.size)])
        return torch.func.vmap(one, randomness="different")(params, buffers, inputs)  # own dropout masks

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """Copy ``index``'s parameters and buffers, as a state dict of the single network."""
        if self.size == 1:
            return {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        state = {name: p[index].detach().clone() for name, p in zip(self._names, self.stacked)}
        state.update({name: b[index].clone() for name, b in self._stacked_buffers().items()})
        return state


TraceCallback = Callable[[int, torch.Tensor, torch.Tensor], None]
BATCHED_COMPILE_REFUSED = ("not compiled: a batched (vmapped) fit compiled by torch 2.13's inductor gets wrong "
                           "gradients, so batched fits run eagerly")


def fit(model: Ensemble, inputs: torch.Tensor, objective: Callable[[torch.Tensor, int], torch.Tensor],
        schedule: Schedule, *, precision: Precision = Precision(), trace: TraceCallback | None = None,
        trace_at: Callable[[int], bool] | None = None,
        redraw: Callable[[int], torch.Tensor] | None = None,
        progress: Callable[[int, int, Callable[[], float]], None] | None = None, compile: bool = False,
        timings: dict | None = None) -> torch.Tensor:
    """Minimise ``objective(model(inputs), iteration).sum()`` with Adam; return the final outputs.

    ``objective`` returns one loss per problem, shape (B,), computed on float32 outputs. Iterate i is the
    network's output after i updates; ``trace(i, outputs, losses)`` is called (outputs detached, float32;
    losses the per-problem loss of that iterate, the blind stopping rules' input) for
    each i in 1..iterations where ``trace_at(i)``; these are the only host-device synchronisation points
    the engine adds. The returned outputs are iterate ``schedule.iterations``. ``redraw(i)``, if given,
    returns the inputs of iterate i >= 1 (a prior whose input noise is drawn anew every iteration);
    iterate 0 uses ``inputs``. ``progress(i, iterations, loss)``, if given, is called after update i with
    a callable giving the mean loss of that update (``RunContext.progress`` reads it a few times a second).
    ``compile``: run the training forward (and its backward) through
    ``torch.compile``; the final, gradient-free forward stays eager (compiling it again would cost more than
    it saves). ``timings``, if given, receives ``compile_s``: the wall time of the first, compiling iteration.
    A batched fit (more than one problem) is not compiled: ``timings["compile_skipped"]`` says why.
    """
    if precision.channels_last and inputs.dim() == 4:  # batched: NHWC inputs to vmap's grouped convolutions
        if model.size == 1:  # (the ensemble's stacked parameters are 5-d: no channels-last for them)
            model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    trained = [p for p in model.parameters() if p.requires_grad]
    # one fused kernel for every parameter on CUDA (elementwise, so still each problem's own Adam); the CPU
    # keeps torch's default implementation, whose results the existing records hold
    optimiser = torch.optim.Adam(trained, lr=schedule.lr, fused=True if trained and trained[0].is_cuda else None)

    if compile and model.size > 1:
        compile = False  # torch 2.13's inductor miscomputes the vmapped network's gradients (tests/test_fitting.py)
        if timings is not None:
            timings["compile_skipped"] = BATCHED_COMPILE_REFUSED
    train = torch.compile(model) if compile else model

    def forward(step: int, net: nn.Module = model) -> torch.Tensor:
        x = redraw(step) if redraw is not None and step > 0 else inputs
        return net(x, precision.dtype).float()

    started = time.perf_counter()
    for step in range(schedule.iterations):
        outputs = forward(step, train)  # iterate `step`: the output after `step` updates
        for group in optimiser.param_groups:
            group["lr"] = schedule.lr_at(step)
        loss = objective(outputs, step)
        if loss.dim() != 1 or loss.shape[0] != outputs.shape[0]:
            raise ValueError(f"the objective must return one loss per problem, got shape {tuple(loss.shape)}")
        if step > 0 and trace is not None and trace_at is not None and trace_at(step):
            trace(step, outputs.detach(), loss.detach())
        optimiser.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimiser.step()
        if progress is not None:
            progress(step + 1, schedule.iterations, lambda loss=loss: float(loss.detach().mean()))
        if step == 0 and compile and timings is not None:
            timings["compile_s"] = time.perf_counter() - started
    with torch.no_grad():
        outputs = forward(schedule.iterations)
        if trace is not None and trace_at is not None and trace_at(schedule.iterations):
            trace(schedule.iterations, outputs, objective(outputs, schedule.iterations - 1))
    return outputs


# -- deep priors as harness methods ---------------------------------------------------------------------
GPU_BATCH_CAP = 32  # problems fitted at once on a GPU at most: past this the GPU is busy anyway
MEMORY_FRACTION = 0.7  # of the free device memory a group of problems may take (allocator slack, scoring)


def batch_override() -> int | None:
    """``$BENCH_PRIOR_BATCH``: the user's batch size, used as given (no memory probe)."""
    env = os.environ.get("BENCH_PRIOR_BATCH")
    if not env:
        return None
    try:
        return max(1, int(env))
    except ValueError:
        raise ValueError(f"$BENCH_PRIOR_BATCH={env!r}: not a whole number") from None


@functools.lru_cache(maxsize=None)
def default_batch() -> int:
    """Cells the scheduler hands a prior at once: ``$BENCH_PRIOR_BATCH``, else ``GPU_BATCH_CAP`` with a GPU
    visible (the worker splits them by memory, ``memory_batch``), else 1.

    On the CPU batching does not help (one process per core does), so CPU runs stay one cell per process.
    The batch size changes no cell key: it changes how cells are computed, not what is computed.
    """
    override = batch_override()
    if override is not None:
        return override
    from bench.running.devices import visible_gpus  # finds GPUs without initialising CUDA here

    return GPU_BATCH_CAP if visible_gpus() else 1


def batch_for_memory(per_problem_bytes: int, free_bytes: int, *, fraction: float = MEMORY_FRACTION,
                     cap: int = GPU_BATCH_CAP) -> int:
    """The largest power of two n <= cap with n problems of ``per_problem_bytes`` each within ``fraction``
    of ``free_bytes``; at least 1 (a problem too large for the device fails as it would alone)."""
    if per_problem_bytes <= 0:
        return cap
    fits = int(fraction * free_bytes // per_problem_bytes)
    n = 1
    while n * 2 <= min(fits, cap):
        n *= 2
    return n


def hold_out(tensors: dict[str, torch.Tensor], weights: Sequence[str], fraction: float,
             generator: torch.Generator) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Split one problem's loss for self-validation: in each tensor named in ``weights`` (a loss weight over
    the observation's entries: samples, or STFT frames), round(``fraction`` x its observed entries), at least
    one, drawn at random, are held out. Returns (fit tensors, held-out tensors): the problem's tensors with
    each weight kept on the fitted entries only, and on the held-out entries only."""
    fit, held = dict(tensors), dict(tensors)
    for name in weights:
        weight = tensors[name]
        observed = torch.nonzero(weight.reshape(-1) > 0).squeeze(1)
        count = max(1, round(fraction * len(observed)))
        out = torch.zeros(weight.numel(), dtype=torch.bool)
        out[observed[torch.randperm(len(observed), generator=generator)[:count]]] = True
        out = out.reshape(weight.shape)
        fit[name] = torch.where(out, torch.zeros_like(weight), weight)
        held[name] = torch.where(out, weight, torch.zeros_like(weight))
    return fit, held


class _DefaultBatch:
    """``max_batch`` read on the class (as the scheduler does) calls default_batch() when first asked."""

    def __get__(self, obj, owner) -> int:
        return default_batch()


@dataclass
class Problems:
    """One group of observations fitted together: their tensors stacked along dimension 0."""

    observations: list
    contexts: list
    device: torch.device
    tensors: dict[str, torch.Tensor]

    @property
    def size(self) -> int:
        return len(self.observations)


class FittedPrior(Method):
    """A method that fits a freshly initialised network to each observation, many observations at once.

    Subclasses give the network (``network``), the fixed input's shape (``input_shape``), the per-problem
    tensors the objective needs (``problem_tensors``), the per-problem loss (``objective``) and the
    waveforms an output stands for (``signals``). The base groups the cells of a batch that can share a
    fit (same signal shape, protocol and device), seeds each problem from its cell's method seed (network
    initialisation and input noise), runs ``fit`` and reports traces to each cell's context.

    The protocol fields every prior uses, with their defaults, are ``protocol_defaults``; a subclass
    replaces the defaults it changes. Parameters common to every prior: ``precision`` ("auto": on CUDA and
    on CPUs with native bf16 the first of bf16 channels-last, bf16 NCHW and float32 that a probe runs on the
    machine, float32 elsewhere; "fp32"; "bf16": either bf16 layout, never float32) and ``holdout``
    (the fraction of observed entries held out of the loss for self-validation, 0 by default; a subclass
    names its loss weights in ``loss_weights``, and one that names none cannot hold anything out).
    """

    max_batch = _DefaultBatch()
    bf16_on_cpu = True  # whether "auto" uses a CPU's native bf16 (False where bf16 was measured slower)
    protocol_defaults = {"iterations": 2000, "lr": 1e-3, "lr_step": None, "lr_gamma": 0.1, "trace_every": 0,
                         "trace_all_metrics": False}
    loss_weights: tuple[str, ...] = ()  # problem tensors weighting the loss over observed entries (hold_out)

    def __init__(self, precision: str = "auto", holdout: float = 0.0, **params):
        super().__init__(precision=precision, holdout=holdout, **params)
        Precision.resolve(precision, "cpu")  # validate early
        self.precision = precision
        if not 0 <= holdout < 1:
            raise ValueError(f"holdout must be a fraction in [0, 1), not {holdout!r}")
        if holdout and not self.loss_weights:
            raise ValueError(f"{type(self).__name__} cannot hold observed samples out of its loss (holdout)")
        self.holdout = float(holdout)

    def resolved_precision(self, device: torch.device) -> Precision:
        """Today's rule without a probe (benchmarks); fits use ``checked_precision``."""
        return Precision.resolve(self.precision, device, native_bf16=None if self.bf16_on_cpu else False)

    def precision_chain(self, device) -> list:
        """The candidate configurations of this prior's precision setting on ``device``, in order."""
        from bench.components.precision_probe import candidates_for

        kind = torch.device(device).type
        return candidates_for(self.precision, kind == "cuda" or (kind == "cpu" and self.bf16_on_cpu
                                                                 and cpu_has_native_bf16()))

    def probe_target(self, shape: Sequence[int], device) -> dict:
        """What a precision probe runs: this network (its parameters but the precision's) at input ``shape``."""
        params = {k: v for k, v in self.params.items() if k not in ("precision", "holdout")}
        return {"method": self.registered_name, "params": params, "shape": [int(n) for n in shape],
                "device": torch.device(device).type}

    def plan_precision(self, shape: Sequence[int], device):
        """The configuration a cell at input ``shape`` will run on a ``device`` of this machine's kind."""
        from bench.components.precision_probe import resolve

        return resolve(self.precision, self.probe_target(shape, device), self.precision_chain(device))

    def checked_precision(self, observation, context):
        """The configuration to fit with, checked on this machine before any fit: the one the cell's key
        promises (``RunContext.precision``, from the cell's ``config["precision"]``; for a cell planned without
        one, as by a direct call, this machine's own choice). Raises ``bench.components.precision_probe.PrecisionRefused``
        (one line) where it is refused here."""
        from bench.components.precision_probe import PrecisionRefused, check_promised

        device = torch.device(context.device)
        target, chain = self.probe_target(self.input_shape(observation), device), self.precision_chain(device)
        promised = getattr(context, "precision", None)
        if promised is not None:
            return check_promised(self.precision, promised, target, chain)
        resolution = self.plan_precision(self.input_shape(observation), device)
        if resolution.ran is None:
            raise PrecisionRefused(resolution.refusal_line())
        return resolution

    # -- hooks ------------------------------------------------------------------------------------------
    def network(self) -> nn.Module:
        raise NotImplementedError

    def input_shape(self, observation) -> tuple[int, ...]:
        raise NotImplementedError

    def draw_input(self, observation, generator: torch.Generator) -> torch.Tensor:
        """The network's input noise for one problem (default: N(0, 1) of ``input_shape``)."""
        return torch.randn(self.input_shape(observation), generator=generator)

    def redraws_input(self, observation) -> bool:
        """Whether this problem's input noise is drawn anew every iteration (default: fixed)."""
        return False

    def problem_tensors(self, observation) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def objective(self, outputs: torch.Tensor, problems: Problems, step: int, schedule: Schedule) -> torch.Tensor:
        raise NotImplementedError

    def signals(self, outputs: torch.Tensor, problems: Problems) -> torch.Tensor:
        raise NotImplementedError

    # -- the harness interface --------------------------------------------------------------------------
    def restore(self, observation, context):
        return self.restore_batch([observation], [context])[0]

    def restore_batch(self, observations, contexts):
        results: list = [None] * len(observations)
        groups: dict[str, list[int]] = {}
        for i, (obs, ctx) in enumerate(zip(observations, contexts)):
            key = repr((obs.signal.shape, sorted(ctx.protocol.items()), ctx.device))
            groups.setdefault(key, []).append(i)
        for group in groups.values():
            resolution = self.checked_precision(observations[group[0]], contexts[group[0]])
            size = self._memory_batch(observations[group[0]], contexts[group[0]], len(group), Precision.of(resolution.ran))
            for start in range(0, len(group), size):
                indices = group[start:start + size]
                estimates = self._fit_group([observations[i] for i in indices], [contexts[i] for i in indices],
                                            resolution)
                for i, estimate in zip(indices, estimates):
                    results[i] = estimate
        return results

    def _memory_batch(self, observation, context, wanted: int, precision: Precision) -> int:
        """How many of ``wanted`` problems to fit at once: all on the CPU or with ``$BENCH_PRIOR_BATCH``;
        on CUDA as many as ``batch_for_memory`` allows, from one probe step of one problem."""
        device = torch.device(context.device)
        if wanted == 1 or device.type != "cuda" or batch_override() is not None:
            return wanted
        per_problem = self._probe_memory(observation, context, device, precision)
        free, _ = torch.cuda.mem_get_info(device)
        return min(wanted, batch_for_memory(per_problem, free))

    def _probe_memory(self, observation, context, device: torch.device, precision: Precision) -> int:
        """Peak device memory of one training step of one problem (forward, backward, Adam), in bytes,
        under its own random streams so that the fits that follow are unchanged."""
        schedule = Schedule.from_protocol(context.protocol)
        torch.cuda.synchronize(device)
        baseline = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        with torch.random.fork_rng(devices=[device]):
            problems = Problems([observation], [context], device,
                                {k: v.unsqueeze(0).to(device) for k, v in self.problem_tensors(observation).items()})
            inputs = self.draw_input(observation, torch.Generator().manual_seed(0)).unsqueeze(0).to(device)
            model = Ensemble(self.network, [0]).to(device)
            fit(model, inputs, lambda out, step: self.objective(out, problems, step, schedule),
                Schedule(iterations=1, lr=schedule.lr), precision=precision)
            del model, problems, inputs
        peak = torch.cuda.max_memory_allocated(device) - baseline
        torch.cuda.empty_cache()
        return peak

    def _fit_group(self, observations, contexts, resolution) -> list[Estimate]:
        device = torch.device(contexts[0].device)
        schedule = Schedule.from_protocol(contexts[0].protocol)
        # net, input, fit, held-out entries (generate_state(n)[:3] does not depend on n)
        seeds = [np.random.SeedSequence(ctx.seed).generate_state(4) for ctx in contexts]
        generators = [torch.Generator().manual_seed(int(s[1])) for s in seeds]
        inputs = torch.stack([self.draw_input(obs, g) for obs, g in zip(observations, generators)]).to(device)
        redrawn = [self.redraws_input(obs) for obs in observations]

        def redraw(step: int) -> torch.Tensor:  # each problem continues its own generator's stream
            fresh = [self.draw_input(obs, g) if again else None
                     for obs, g, again in zip(observations, generators, redrawn)]
            return torch.stack([x.to(device) if x is not None else inputs[i] for i, x in enumerate(fresh)])
        per_problem = [self.problem_tensors(obs) for obs in observations]
        heldout = None
        if self.holdout:
            splits = [hold_out(p, self.loss_weights, self.holdout, torch.Generator().manual_seed(int(s[3])))
                      for p, s in zip(per_problem, seeds)]
            per_problem = [fitted for fitted, _ in splits]
            heldout = Problems(observations, contexts, device, _stacked([held for _, held in splits], device))
        problems = Problems(observations, contexts, device, _stacked(per_problem, device))
        model = Ensemble(self.network, [int(s[0]) for s in seeds]).to(device)

        def report(iteration: int, arrays: list[np.ndarray]) -> None:
            waves, losses = arrays[0], arrays[1].tolist()
            held_losses = arrays[2].tolist() if heldout is not None else [None] * len(contexts)
            for ctx, wave, loss, held_loss in zip(contexts, waves, losses, held_losses):
                if ctx.wants_trace(iteration):
                    ctx.report(iteration, wave, loss=loss, heldout_loss=held_loss)
        copies = HostCopies(report)  # on CUDA the fit goes on while a traced iterate travels to the host

        def trace(iteration: int, outputs: torch.Tensor, losses: torch.Tensor) -> None:
            traced = [self.signals(outputs, problems), losses]
            if heldout is not None:
                with torch.no_grad():
                    step = min(iteration, schedule.iterations - 1)  # the step fit() scores this iterate at
                    traced.append(self.objective(outputs, heldout, step, schedule))
            copies.put(iteration, traced)

        # the fit's own random draws (dropout) come from a stream seeded by the group's first cell, so a cell
        # reruns identically in the same batch, whatever ran before it in the worker
        timings: dict = {}
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(int(seeds[0][2]))
            outputs = fit(model, inputs, lambda out, step: self.objective(out, problems, step, schedule),
                          schedule, precision=Precision.of(resolution.ran), trace=trace,
                          trace_at=lambda i: any(ctx.wants_trace(i) for ctx in contexts),
                          redraw=redraw if any(redrawn) else None, progress=contexts[0].progress,
                          compile=compile_requested(), timings=timings)
        copies.drain()
        with torch.no_grad():
            final_loss = self.objective(outputs, problems, schedule.iterations - 1, schedule).cpu().numpy()
            waves = self.signals(outputs, problems).cpu().numpy()
        precision = resolution.record(compiled=compile_requested() and len(observations) == 1)  # as fit() does
        return [Estimate(wave, info={"final_loss": float(loss), "iterations": schedule.iterations,
                                     "batch": len(observations), "precision": precision, **timings})
                for wave, loss in zip(waves, final_loss)]


def _stacked(per_problem: list[dict[str, torch.Tensor]], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.stack([p[k] for p in per_problem]).to(device) for k in per_problem[0]}
