"""Methods and datasets registered only for the tests (loaded through $BENCH_PLUGINS, so worker processes
see them too). Each misbehaves in one specific way a real method can."""
from __future__ import annotations

import time

import numpy as np

from bench import Clip, Dataset, Method, dataset, method


@method("test-raises", version="1")
class Raises(Method):
    """Always raises."""

    tasks = ("denoising", "inpainting")

    def restore(self, observation, context):
        raise RuntimeError("deliberate failure for the test")


@method("test-nan", version="1")
class ReturnsNaN(Method):
    """Returns NaN on odd items."""

    tasks = ("denoising",)

    def restore(self, observation, context):
        out = observation.signal.copy()
        if context.seed % 2:
            out[::7] = np.nan
        return out


@method("test-oom", version="1")
class OutOfMemory(Method):
    """Asks numpy for far more memory than any machine has (a real MemoryError, nothing allocated)."""

    tasks = ("denoising",)

    def restore(self, observation, context):
        np.empty((1 << 40, 1 << 10), dtype=np.float64)
        return observation.signal


@method("test-iterative", version="1")
class Iterative(Method):
    """Moves from the observation towards zero, reporting every iterate: a trace to check oracle/final."""

    tasks = ("denoising",)
    protocol_defaults = {"iterations": 10, "trace_every": 0, "trace_all_metrics": False}

    def restore(self, observation, context):
        x = observation.signal.copy()
        for i in range(1, context.protocol["iterations"] + 1):
            x = x * 0.9
            if context.wants_trace(i):
                context.report(i, x)
        return x


@method("test-slow", version="1")
class Slow(Method):
    """Sleeps ``seconds`` per iteration while reporting; for kill/resume and timeout tests."""

    tasks = ("denoising",)
    protocol_defaults = {"iterations": 5}

    def __init__(self, seconds: float = 0.2):
        super().__init__(seconds=seconds)
        self.seconds = seconds

    def restore(self, observation, context):
        for i in range(context.protocol["iterations"]):
            time.sleep(self.seconds)
            context.report(i, observation.signal)
        return observation.signal


@method("test-noop", version="1")
class NoOp(Method):
    """Returns the observation: harness overhead only."""

    tasks = ("denoising", "inpainting", "separation", "dereverberation")

    def restore(self, observation, context):
        return observation.signal


@dataset("test-tone", version="1")
class Tone(Dataset):
    """A short sine per item: the cheapest possible clip."""

    kind = "test"
    synthetic = True

    def item_ids(self, split=None):
        return [f"{i:04d}" for i in range(5000)]

    def load(self, item, *, sr, seconds, rng):
        n = int((seconds or 0.05) * sr)
        t = np.arange(n) / sr
        return Clip(0.5 * np.sin(2 * np.pi * (200 + int(item) % 100) * t), sr, dataset="test-tone", item=item)


@dataset("test-corpus", version="1")
class MissingCorpus(Dataset):
    """A real-corpus-like loader whose files are never there; stands in with synthetic-speech."""

    kind = "speech"
    folder = "TestCorpus"
    standin = "synthetic-speech"

    def item_ids(self, split=None):
        from bench.components.dataset import CorpusMissing

        raise CorpusMissing(f"test-corpus: expected {self.root}/wavs/*.wav")




@method("test-crash", version="1")
class Crashes(Method):
    """Kills its own worker process for one method seed in three (as a segfault or the OOM killer would)."""

    tasks = ("denoising",)

    def restore(self, observation, context):
        import os
        import signal

        if context.seed % 3 == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return observation.signal


@method("test-jitter", version="1")
class Jitter(Method):
    """Returns the observation plus faint white noise drawn from the method seed; ``tag`` changes nothing
    but the configuration (hence the seed): two tags are two equally good, not identical, methods."""

    tasks = ("denoising",)

    def __init__(self, tag: int = 0, level: float = 1e-3):
        super().__init__(tag=tag, level=level)
        self.level = level

    def restore(self, observation, context):
        noise = np.random.default_rng(context.seed).standard_normal(observation.signal.shape)
        return observation.signal + self.level * noise.astype(np.float32)


@method("test-counted", version="1")
class Counted(Method):
    """Appends its method seed (one per cell) to the file ``$BENCH_TEST_COUNT`` and sleeps ``seconds``:
    counts how often each cell is computed, across processes."""

    tasks = ("denoising",)

    def __init__(self, seconds: float = 0.3):
        super().__init__(seconds=seconds)
        self.seconds = seconds

    def restore(self, observation, context):
        import os

        with open(os.environ["BENCH_TEST_COUNT"], "a") as f:
            f.write(f"{context.seed}\n")
        time.sleep(self.seconds)
        return observation.signal


@method("test-dies", version="1")
class Dies(Method):
    """Ends or stalls its own worker process without raising: a segfault (``how = "segfault"``), an
    ``os._exit(3)`` (``"exit"``), or a silent hang that never reports progress (``"hang"``)."""

    tasks = ("denoising",)

    def __init__(self, how: str = "segfault"):
        super().__init__(how=how)
        self.how = how

    def restore(self, observation, context):
        import ctypes
        import os
        import threading

        if self.how == "segfault":
            ctypes.string_at(0)  # reads address 0: SIGSEGV
        elif self.how == "exit":
            os._exit(3)
        elif self.how == "hang":
            threading.Event().wait()
        raise ValueError(f"test-dies: unknown how={self.how!r}")


@method("test-slow-fit", version="1")
class SlowFit(Method):
    """Counts through the protocol's iterations at about 1 ms each, reporting a falling loss as a fit does."""

    tasks = ("denoising",)
    protocol_defaults = {"iterations": 3000}

    def restore(self, observation, context):
        total = int(context.protocol["iterations"])
        for i in range(1, total + 1):
            time.sleep(0.001)
            if context.progress is not None:
                context.progress(i, total, lambda: 1.0 / i)
        return observation.signal


# -- a trained method (bench.components.training): a small convolutional denoiser learnt on clean training speech -------
from bench import TrainedMethod  # noqa: E402


@method("test-trained-denoiser", version="1")
class TrainedDenoiser(TrainedMethod):
    """A 1-D convolution trained to remove white noise from clean training clips. ``fail_in_epoch``: raise in
    that epoch; ``step_seconds``: sleep after each step (so a test can kill it mid-training)."""

    tasks = ("denoising",)
    training_data = {"clean": {"dataset": "synthetic-speech", "split": "train", "items": 4, "seconds": 0.25}}
    training_defaults = {"epochs": 3, "lr": 0.01, "noise_std": 0.1, "batch_size": 2}

    def __init__(self, width: int = 9, fail_in_epoch: int | None = None, step_seconds: float = 0.0):
        super().__init__(width=width, fail_in_epoch=fail_in_epoch, step_seconds=step_seconds)
        self.width, self.fail_in_epoch, self.step_seconds = width, fail_in_epoch, step_seconds

    def build(self):
        import torch

        return torch.nn.Conv1d(1, 1, self.width, padding=self.width // 2)

    def fit(self, data, context):
        import torch

        self.model = self.build().to(context.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=context.protocol["lr"])
        clips = torch.stack([torch.from_numpy(c.samples) for c in data["clean"].clips()])[:, None]
        size = context.protocol["batch_size"]
        for epoch in context.epochs(self.model, optimizer, steps_per_epoch=-(-len(clips) // size)):
            if epoch == self.fail_in_epoch:
                raise RuntimeError(f"deliberate training failure in epoch {epoch}")
            order = torch.from_numpy(context.rng.permutation(len(clips)))
            for start in range(0, len(clips), size):
                clean = clips[order[start:start + size]]
                noisy = clean + context.protocol["noise_std"] * torch.randn_like(clean)
                loss = torch.mean((self.model(noisy) - clean) ** 2)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                context.step(loss)
                time.sleep(self.step_seconds)

    def restore(self, observation, context):
        import torch

        with torch.no_grad():
            x = torch.from_numpy(observation.signal)[None, None].to(context.device)
            return self.model(x)[0, 0].cpu().numpy()


@method("test-nan-network", version="1")
class NaNNetwork(Method):
    """Only a network, whose output is NaN: the precision probe's finiteness check (bench.components.precision_probe)."""

    tasks = ("denoising",)

    def network(self):
        import torch  # here, not at the top: the plugins load in every test worker

        class NaNs(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.ones(1))

            def forward(self, x):
                return x * self.weight * float("nan")

        return NaNs()
