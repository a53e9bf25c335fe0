"""Traced iterates handed to the host in order, whenever their copies arrive (bench.components.host_copies)."""
import numpy as np
import torch

from bench.components.host_copies import HostCopies


class _Event:
    """A stand-in for a CUDA event that the test completes by hand (no GPU here)."""

    def __init__(self):
        self.done = False
        self.waited = False

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.waited = True
        self.done = True


class _HeldCopies(HostCopies):
    """Copies whose arrival the test controls: each put's copy is in flight until its event is done."""

    def __init__(self, deliver):
        super().__init__(deliver)
        self.events: list[_Event] = []

    def _start_copy(self, tensors):
        self.events.append(_Event())
        return [t.clone() for t in tensors], self.events[-1]


def test_cpu_copies_are_handed_over_at_once_with_their_values():
    got = []
    copies = HostCopies(lambda key, arrays: got.append((key, arrays)))
    wave, loss = torch.arange(6.0).reshape(2, 3), torch.tensor([0.5, 0.25])
    copies.put(7, [wave, loss])
    assert [key for key, _ in got] == [7] and not copies.pending
    np.testing.assert_array_equal(got[0][1][0], wave.numpy())
    assert got[0][1][1].tolist() == [0.5, 0.25]


def test_copies_in_flight_wait_and_arrive_in_put_order():
    got = []
    copies = _HeldCopies(lambda key, arrays: got.append((key, float(arrays[0][0]))))
    for i in range(1, 4):
        copies.put(i, [torch.tensor([float(i)])])
    assert got == []  # nothing has arrived: the fit was not held up, nothing was handed over
    copies.events[1].done = True  # a later copy arriving first is held back behind the earlier one
    copies.put(4, [torch.tensor([4.0])])
    assert got == []
    copies.events[0].done = True
    copies.put(5, [torch.tensor([5.0])])
    assert got == [(1, 1.0), (2, 2.0)]
    copies.drain()  # the fit's end waits for the rest
    assert got == [(i, float(i)) for i in range(1, 6)]
    assert all(event.done for event in copies.events) and copies.events[-1].waited
