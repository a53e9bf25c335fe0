"""Copies of traced iterates from the device to the host that do not stall the fit.

On CUDA, ``tensor.cpu()`` waits for every kernel queued before it: at each trace point the host stops
queueing work and the device runs dry. ``HostCopies`` instead copies each traced tensor into pinned host
memory without blocking, records a CUDA event behind the copies, and lets the fit go on; a copy is handed
over (in the order the copies were taken) once its event has completed, which ``put`` checks at every
later trace point and ``drain`` waits for when the fit ends. On the CPU a copy is ready at once and is
handed over inside ``put``, as a blocking copy would be.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Sequence

import numpy as np
import torch

Deliver = Callable[[Any, list[np.ndarray]], None]


class HostCopies:
    """``put(key, tensors)`` starts copying; ``deliver(key, arrays)`` receives them, in ``put`` order."""

    def __init__(self, deliver: Deliver):
        self.deliver = deliver
        self.pending: deque[tuple[Any, list[torch.Tensor], Any]] = deque()  # (key, host tensors, event)

    def put(self, key: Any, tensors: Sequence[torch.Tensor]) -> None:
        """Start copying ``tensors`` (detached) to the host, then hand over every copy that has arrived."""
        host, event = self._start_copy([t.detach() for t in tensors])
        self.pending.append((key, host, event))
        self._deliver_arrived()

    def drain(self) -> None:
        """Wait for every copy in flight and hand it over."""
        while self.pending:
            event = self.pending[0][2]
            if event is not None:
                event.synchronize()
            self._hand_over_first()

    def _deliver_arrived(self) -> None:
        # the events are recorded in order on one stream, so they complete in order: look only at the head
        while self.pending and (self.pending[0][2] is None or self.pending[0][2].query()):
            self._hand_over_first()

    def _hand_over_first(self) -> None:
        key, host, _ = self.pending.popleft()
        self.deliver(key, [t.numpy() for t in host])

    def _start_copy(self, tensors: list[torch.Tensor]) -> tuple[list[torch.Tensor], Any]:
        """The host tensors the copies land in and the event that marks their arrival (None: already there)."""
        if not any(t.is_cuda for t in tensors):
            return [t.cpu() for t in tensors], None
        host = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in tensors]
        for target, source in zip(host, tensors):
            target.copy_(source, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return host, event
