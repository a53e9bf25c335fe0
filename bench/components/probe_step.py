"""The child side of a precision probe (``bench.components.precision_probe``): run as
``python -m bench.components.probe_step SPEC``, it calls the candidate's runner on the target, by default one
forward and backward pass of the real network at the real shape through the fitting loop; exit 3 for a
non-finite result, a signal or a hang are seen by the parent."""
from __future__ import annotations

import importlib
import json
import sys

from bench.components.fitting import Ensemble, Precision, Schedule, fit
from bench.components.precision_probe import Candidate, NonFinite


def forward_backward(target: dict, candidate: Candidate) -> None:
    """The probe: one forward and backward pass (and Adam step) of the target network at the target shape,
    through ``bench.components.fitting.fit`` as a fit runs it; raises ``NonFinite`` for a non-finite loss, output or
    gradient (an Adam step on a non-finite gradient leaves non-finite parameters)."""
    import torch

    from bench.components.method import build_method

    torch.manual_seed(0)
    device = torch.device(target.get("device", "cpu"))
    method = build_method(target["method"], target["params"])
    model = Ensemble(method.network, [0]).to(device)
    inputs = torch.randn((1, *target["shape"]), device=device)
    losses = []

    def objective(outputs, step):
        loss = outputs.square().flatten(1).mean(1)
        losses.append(loss.detach())
        return loss

    outputs = fit(model, inputs, objective, Schedule(iterations=1), precision=Precision.of(candidate))
    if not all(bool(torch.isfinite(t).all()) for t in [outputs, *losses, *model.parameters()]):
        raise NonFinite("non-finite loss, output or gradient")


def _main(spec: str) -> int:
    data = json.loads(spec)
    candidate = Candidate(**data["candidate"])
    module, function = candidate.runner.split(":")
    try:
        getattr(importlib.import_module(module), function)(data["target"], candidate)
    except NonFinite as exc:
        print(exc, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
