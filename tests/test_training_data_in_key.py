"""The training key holds every field of the training data that shapes the weights: two training setups that
differ in one field alone (dataset, params, split, sample rate, clip length) never share a key, so a cell
never reuses another setup's stale weights. Only the public expansion is used (``bench.planning.cells.expand`` and
each trained cell's ``config["training"]``), wherever the key is computed."""
from __future__ import annotations

import pytest

from bench.planning.cells import expand
from bench.planning.suite import parse_suite

BASE = {"dataset": "synthetic-speech", "split": "train", "items": 8000, "seconds": 0.25, "sample_rate": 8000}
# test-tone lists the same items in every split, so there only the split itself differs
TONE = {"dataset": "test-tone", "split": "train", "items": 5000, "seconds": 0.25, "sample_rate": 8000}


def training_key(source: dict) -> str:
    suite = parse_suite({"name": "k", "items": 1, "seeds": [0], "seconds": 0.25, "sample_rate": 8000,
                         "metrics": ["si_sdr"], "datasets": [{"name": "synthetic-speech"}],
                         "corruptions": [{"name": "gaussian-noise", "params": {"snr": 5}}],
                         "methods": [{"name": "test-trained-denoiser", "training_data": {"clean": source}}]})
    (key,) = {cell.config["training"] for cell in expand(suite, "paper")}
    return key


@pytest.fixture(scope="module")
def base_key():
    return training_key(BASE)


def test_the_same_training_data_gives_the_same_key(base_key):
    assert training_key(dict(BASE)) == base_key


def test_the_dataset_is_in_the_key(base_key):  # the same item names, another corpus
    assert training_key({**BASE, "dataset": "synthetic-drums"}) != base_key


def test_the_datasets_params_are_in_the_key(base_key):
    assert training_key({**BASE, "params": {"voice": "female"}}) != base_key


def test_the_split_is_in_the_key():
    assert training_key({**TONE, "split": "test"}) != training_key(TONE)


def test_the_sample_rate_is_in_the_key(base_key):
    assert training_key({**BASE, "sample_rate": 16000}) != base_key


def test_the_clip_length_is_in_the_key(base_key):
    assert training_key({**BASE, "seconds": 0.5}) != base_key
