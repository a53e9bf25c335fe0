import json
import subprocess
import sys

import numpy as np

from bench.core.registry import METHODS
from bench.planning.cells import cell_key, expand
from bench.planning.suite import parse_suite
from bench.records.store import ResultsStore
from bench.running.worker import run_cell

SUITE = {
    "name": "cells", "items": 3, "seeds": [0, 1], "seconds": 0.25, "metrics": ["si_sdr", "si_sdr_i"],
    "methods": [{"name": "identity"}, {"name": "spectral-wiener", "params": {"n_fft": 256, "hop": 64}},
                {"name": "ar-gap-fill"}],
    "datasets": [{"name": "synthetic-speech"}],
    "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}, {"name": "waveform-gap", "params": {"ms": 2}}],
}


def keys_by_method(suite_dict):
    cells = expand(parse_suite(suite_dict))
    out = {}
    for c in cells:
        out.setdefault(c.method["name"], set()).add(c.key)
    return out, cells


def test_grid_has_only_applicable_method_task_pairs():
    _, cells = keys_by_method(SUITE)
    pairs = {(c.method["name"], c.corruption["name"]) for c in cells}
    assert pairs == {("identity", "gaussian-noise"), ("identity", "waveform-gap"),
                     ("spectral-wiener", "gaussian-noise"), ("ar-gap-fill", "waveform-gap")}
    assert len(cells) == 4 * 3 * 2  # pairs x items x seeds
    assert len({c.key for c in cells}) == len(cells)


def test_keys_are_stable_across_processes():
    _, cells = keys_by_method(SUITE)
    config = cells[0].config
    code = ("import json,sys; from bench.planning.cells import cell_key; "
            "print(cell_key(json.loads(sys.stdin.read())))")
    other = subprocess.run([sys.executable, "-c", code], input=json.dumps(config), capture_output=True,
                           text=True, check=True).stdout.strip()
    assert other == cells[0].key == cell_key(config)


def test_changing_a_methods_parameters_reruns_exactly_its_cells():
    before, _ = keys_by_method(SUITE)
    changed = json.loads(json.dumps(SUITE))
    changed["methods"][1]["params"]["n_fft"] = 512
    after, _ = keys_by_method(changed)
    assert before["identity"] == after["identity"]
    assert before["ar-gap-fill"] == after["ar-gap-fill"]
    assert before["spectral-wiener"].isdisjoint(after["spectral-wiener"])


def test_changing_a_methods_version_reruns_exactly_its_cells(monkeypatch):
    before, _ = keys_by_method(SUITE)
    entry = METHODS.get("ar-gap-fill")
    monkeypatch.setitem(METHODS._entries, "ar-gap-fill", entry.__class__(
        entry.name, entry.version + "-changed", entry.description, entry.obj, entry.meta))
    after, _ = keys_by_method(SUITE)
    assert before["identity"] == after["identity"]
    assert before["spectral-wiener"] == after["spectral-wiener"]
    assert before["ar-gap-fill"].isdisjoint(after["ar-gap-fill"])


def test_changing_the_metric_set_or_protocol_changes_every_key():
    before, _ = keys_by_method(SUITE)
    more = {**SUITE, "metrics": ["si_sdr", "si_sdr_i", "snr"]}
    after, _ = keys_by_method(more)
    assert before["identity"].isdisjoint(after["identity"])


def test_corruption_seed_never_depends_on_the_method():
    """Every method sees the same corrupted input: same seed and same input scores for each item."""
    _, cells = keys_by_method(SUITE)
    noisy = [c for c in cells if c.corruption["name"] == "gaussian-noise"]
    by_item = {}
    for c in noisy:
        by_item.setdefault((c.config["item"], c.config["seed"]), []).append(c)
    for group in by_item.values():
        assert len({c.corruption_seed for c in group}) == 1
        assert len({c.method_seed for c in group}) == len(group)
        inputs = [run_cell(c)["input_scores"]["si_sdr"] for c in group]
        assert np.allclose(inputs, inputs[0], atol=0)
    # ...and it does depend on item and seed
    assert len({c.corruption_seed for c in noisy}) == 3 * 2


def test_synthetic_flag_substitutes_a_missing_corpus_and_says_so(tmp_path):
    suite = {**SUITE, "datasets": [{"name": "test-corpus"}], "methods": [{"name": "identity"}]}
    import pytest

    from bench.components.dataset import CorpusMissing

    with pytest.raises(CorpusMissing, match="expected"):
        expand(parse_suite(suite), data_root=tmp_path)
    cells = expand(parse_suite(suite), synthetic=True, data_root=tmp_path)
    assert {c.dataset["name"] for c in cells} == {"synthetic-speech"}
    assert {c.dataset["standin_for"] for c in cells} == {"test-corpus"}
    record = run_cell(cells[0])
    assert record["status"] == "ok"
    store = ResultsStore(tmp_path / "r")
    store.write(record)
    assert store.table().loc[0, "standin_for"] == "test-corpus"
