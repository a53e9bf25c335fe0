"""Early stopping in the training context (``stop_when_loss_stops_falling``): a training ends after the first
epoch whose mean loss did not fall below the previous epoch's, an equal loss included; the decision
survives an interruption; without the key every epoch runs; and the key changes no existing job's key."""
from __future__ import annotations

import json

import pytest
import torch

from bench.components.training import TrainingContext, TrainingInterrupted, first_epoch_not_falling
from bench.core.protocol import STOP_WHEN_LOSS_STOPS_FALLING, resolve_training
from bench.planning.training_jobs import JobFolder


def train(folder, losses, *, stop=True, kill_after=None, watched=None):
    """Run a context over ``len(losses)`` epochs, each epoch's steps giving its loss from ``losses`` (and
    ``watched`` as the stopping loss where given); the epochs that ran and the context."""
    protocol = {"epochs": len(losses), **({STOP_WHEN_LOSS_STOPS_FALLING: True} if stop else {})}
    context = TrainingContext(folder, protocol=protocol, stop_after_epoch=kill_after)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ran = []
    try:
        for epoch in context.epochs(model, optimizer):
            ran.append(epoch)
            for _ in range(3):  # steps of one epoch: their mean is the epoch's loss
                optimizer.step()
                context.step(torch.tensor(losses[epoch]),
                             stopping_loss=None if watched is None else watched[epoch])
    except TrainingInterrupted:
        pass
    return ran, context


def test_falls_then_rises_stops_exactly_after_the_first_epoch_that_did_not_fall(tmp_path):
    ran, context = train(tmp_path, [3.0, 2.0, 1.0, 1.5, 0.5, 0.2])
    assert ran == [0, 1, 2, 3]  # epoch 3 (1.5 after 1.0) runs, and is the last
    assert context.stopped_early["epoch"] == 3 and context.stopped_early["epochs"] == 6
    assert context.losses == pytest.approx([3.0, 2.0, 1.0, 1.5])
    saved = json.loads(JobFolder(tmp_path).epoch.read_text())
    assert saved["last_epoch"] == 3 and saved["stopped_early"]["epoch"] == 3
    assert "epoch 4 (1.5) did not fall below that of epoch 3 (1)" in saved["stopped_early"]["reason"]


def test_an_equal_loss_has_stopped_decreasing(tmp_path):
    ran, context = train(tmp_path, [3.0, 2.0, 2.0, 1.0])
    assert ran == [0, 1, 2] and context.stopped_early["epoch"] == 2


def test_a_falling_loss_runs_every_epoch(tmp_path):
    ran, context = train(tmp_path, [3.0, 2.0, 1.0, 0.5])
    assert ran == [0, 1, 2, 3] and context.stopped_early is None
    assert "stopped_early" in json.loads(JobFolder(tmp_path).epoch.read_text())  # recorded: it did not stop


def test_without_the_key_every_epoch_runs(tmp_path):
    ran, context = train(tmp_path, [3.0, 2.0, 2.5, 2.5, 1.0], stop=False)
    assert ran == [0, 1, 2, 3, 4] and context.stopped_early is None
    assert "stopped_early" not in json.loads(JobFolder(tmp_path).epoch.read_text())


def test_it_watches_the_stopping_loss_where_the_method_gives_one(tmp_path):
    """The sinusoidal DAE stops on Eq. 5's term alone: the loss it minimises may still fall."""
    ran, context = train(tmp_path, [3.0, 2.0, 1.0, 0.5], watched=[3.0, 2.0, 2.5, 1.0])
    assert ran == [0, 1, 2] and context.losses == pytest.approx([3.0, 2.0, 1.0])


def test_a_training_interrupted_after_it_stopped_trains_no_further_on_resume(tmp_path):
    losses = [3.0, 2.0, 2.5, 1.0, 0.5]
    ran, first = train(tmp_path, losses, kill_after=2)  # killed after the epoch that stopped it
    assert ran == [0, 1, 2]
    ran, resumed = train(tmp_path, losses)
    assert ran == [] and resumed.resumed_from == 3 and resumed.stopped_early["epoch"] == 2


def test_a_resumed_training_compares_its_next_epoch_with_the_last_recorded_one(tmp_path):
    losses = [3.0, 2.0, 2.5, 1.0, 0.5]
    ran, _ = train(tmp_path, losses, kill_after=1)
    assert ran == [0, 1]
    ran, resumed = train(tmp_path, losses)
    assert ran == [2]  # 2.5 after the recorded 2.0: stops; a context that forgot the history would go on
    assert resumed.stopped_early["epoch"] == 2 and resumed.losses == pytest.approx([3.0, 2.0, 2.5])


def test_first_epoch_not_falling():
    assert first_epoch_not_falling([]) is None and first_epoch_not_falling([1.0]) is None
    assert first_epoch_not_falling([3.0, 2.0, 1.0]) is None
    assert first_epoch_not_falling([3.0, 3.0]) == 1
    assert first_epoch_not_falling([3.0, 2.0, float("nan")]) == 2  # a NaN epoch did not lower the loss


def test_the_key_at_its_default_is_left_out_of_the_protocol_so_no_job_key_changes():
    defaults = {"epochs": 10, "lr": 1e-4, STOP_WHEN_LOSS_STOPS_FALLING: False}
    plain = resolve_training({"epochs": 10, "lr": 1e-4}, suite_wide={}, own={}, where="t")
    declared = resolve_training(defaults, suite_wide={}, own={}, where="t")
    named = resolve_training(defaults, suite_wide={STOP_WHEN_LOSS_STOPS_FALLING: False}, own={}, where="t")
    assert plain.to_dict() == declared.to_dict() == named.to_dict() == {"epochs": 10, "lr": 1e-4}
    on = resolve_training(defaults, suite_wide={STOP_WHEN_LOSS_STOPS_FALLING: True}, own={}, where="t")
    assert on.to_dict() == {"epochs": 10, "lr": 1e-4, STOP_WHEN_LOSS_STOPS_FALLING: True}
    with pytest.raises(ValueError, match="must be like False"):
        resolve_training(defaults, suite_wide={}, own={STOP_WHEN_LOSS_STOPS_FALLING: 1}, where="t")


def test_only_table_1_of_mimilakis_stops_early():
    from bench.planning.cells import expand
    from bench.planning.suite import load_suite

    for name, stops in (("mimilakis2020-table1", True), ("mimilakis2020-table2", False)):
        jobs = {c.training.key: c.training for c in expand(load_suite(name), "smoke", synthetic=True) if c.training}
        assert {job.config["training"].get(STOP_WHEN_LOSS_STOPS_FALLING, False) for job in jobs.values()} == {stops}
