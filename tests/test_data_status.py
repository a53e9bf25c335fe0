"""``bench data status`` on empty, populated and malformed data roots; corpora inside the harness
(stand-ins under --synthetic, a bad file failing only its cell) and the ``stack`` combinator."""
import json

import corpus_fixtures as fx
import numpy as np
import pytest

from bench.cli import main
from bench.components.dataset import CorpusMissing, build_dataset
from bench.core.seeds import item_seed
from bench.planning.cells import expand
from bench.planning.suite import parse_suite
from bench.running.worker import run_cell

REAL = ["demand", "ljspeech", "medleydb", "musdb18", "sc09", "timit", "vctk", "wavegan-drums", "wavegan-piano"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def status(capsys, *args):
    code = main(["data", "status", *args])
    return code, capsys.readouterr().out


def test_status_of_an_empty_data_root_lists_every_corpus_as_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path))
    code, out = status(capsys)
    assert code == 0
    assert f"data root: {tmp_path}  (from $BENCH_DATA" in out
    for name in REAL:
        assert f"\n{name:<15} MISSING    {tmp_path}/" in out
    assert "not found: no LJSpeech-1.1/ under the data root (nor ljspeech/, LJSpeech/)" in out
    assert "download: https://keithito.com/LJ-Speech-Dataset/" in out
    assert "timit/TRAIN/DR1/FCJF0/SA1.WAV    NIST SPHERE header" in out
    assert "stand-in under --synthetic: synthetic-digits" in out
    code, out = status(capsys, "--data", str(tmp_path), "--json")
    report = json.loads(out)
    assert report["data_root_from"] == "--data"
    by_name = {c["name"]: c for c in report["corpora"]}
    assert all(by_name[n]["status"] == "missing" and by_name[n]["url"] and by_name[n]["layout"] for n in REAL)
    assert not any(c["name"].startswith("synthetic") or c["name"] == "stack" for c in report["corpora"])


def test_status_of_a_populated_root_counts_items_rates_and_duration(tmp_path, capsys):
    fx.populate(tmp_path, stems=False)
    code, out = status(capsys, "--data", str(tmp_path), "--json")
    corpora = {c["name"]: c for c in json.loads(out)["corpora"]}
    assert all(corpora[n]["status"] == "found" for n in REAL), {n: corpora[n].get("error") for n in REAL}
    lj = corpora["ljspeech"]
    assert lj["items"] == 6 and lj["tracks"] == lj["files"] == 6 and lj["sample_rates"] == [22050]
    assert lj["channels"] == [1]
    assert lj["duration_s"] == pytest.approx(2.5 + 3 + 3.5 + 4 + 4.5 + 5) and not lj["duration_estimated"]
    assert corpora["timit"]["splits"] == {"train": 9, "test": 6, "all": 15}
    assert corpora["demand"]["sample_rates"] == [16000, 48000] and corpora["demand"]["duration_estimated"]
    assert corpora["demand"]["tracks"] == 64 and corpora["demand"]["files"] == 32  # two time spans per file
    assert corpora["musdb18"]["items_per_track"] == 8 and corpora["musdb18"]["channels"] == [2]
    assert corpora["musdb18"]["files"] == 4 * 5
    assert corpora["vctk"]["revision"] == "1+valentini"
    code, text = status(capsys, "--data", str(tmp_path))
    assert code == 0 and "ljspeech        FOUND" in text
    assert "items: 6 (train 5, test 1); 6 recordings; 22050 Hz, 1 channel(s); 22.5 s (all measured)" in text


def test_status_names_a_malformed_corpus_and_unreadable_files(tmp_path, capsys):
    (tmp_path / "LJSpeech-1.1").mkdir()
    fx.sc09(tmp_path)
    (tmp_path / "sc09" / "one" / "0a1b2c3d_nohash_0.wav").write_bytes(b"garbage")
    code, out = status(capsys, "--data", str(tmp_path))
    assert code == 0
    assert "ljspeech        MALFORMED" in out and "is not a usable corpus: no metadata.csv." in out
    assert "sc09            FOUND" in out and "unreadable: " in out and "0a1b2c3d_nohash_0.wav: unreadable audio" in out


# -- inside the harness ---------------------------------------------------------------------------------------
def suite(dataset: dict, items=3):
    return parse_suite({"name": "t", "items": items, "seeds": [0], "seconds": 1.0, "metrics": ["snr"],
                        "methods": [{"name": "identity"}], "datasets": [dataset],
                        "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}]})


def test_a_missing_corpus_stands_in_under_synthetic_and_errors_without(tmp_path):
    with pytest.raises(CorpusMissing, match="sc09: corpus not found"):
        expand(suite({"name": "sc09"}), data_root=tmp_path)
    cells = expand(suite({"name": "sc09"}), synthetic=True, data_root=tmp_path)
    assert {c.dataset["name"] for c in cells} == {"synthetic-digits"}
    assert {c.dataset["standin_for"] for c in cells} == {"sc09"}
    record = run_cell(cells[0], data_root=tmp_path)
    assert record["status"] == "ok"


def test_a_real_corpus_runs_and_a_bad_file_fails_only_its_cell(tmp_path):
    fx.ljspeech(tmp_path)
    cells = expand(suite({"name": "ljspeech", "split": "all"}, items=6), data_root=tmp_path)
    assert len(cells) == 6 and cells[0].dataset["revision"] == "1"
    bad = tmp_path / "LJSpeech-1.1" / "wavs" / "LJ001-0005.wav"
    bad.write_bytes(bad.read_bytes()[:5000])
    records = {r["config"]["item"]: r for r in (run_cell(c, data_root=tmp_path) for c in cells)}
    assert records["LJ001-0005"]["status"] == "failed"
    assert f"{bad}: truncated: the WAV header declares" in records["LJ001-0005"]["error"]
    assert all(r["status"] == "ok" for item, r in records.items() if item != "LJ001-0005")


def test_stack_pairs_items_of_its_sources(tmp_path):
    spec = {"sources": [{"name": "synthetic-piano"}, {"name": "synthetic-drums", "label": "drums"}]}
    stack = build_dataset("stack", spec)
    assert stack.synthetic and stack.standin is None
    items = stack.item_ids("test")
    assert len(items) == 1000 and len(set(items)) == 1000 and all(" | " in i for i in items)
    item = stack.select(1, split="test", seed=0)[0]
    c = stack.load(item, sr=16000, seconds=1.0)
    piano_item, drums_item = item.split(" | ")
    assert c.samples.shape == (2, 16000) and c.meta["sources"] == ["synthetic-piano", "drums"]
    alone = build_dataset("synthetic-piano", {}).load(
        piano_item, sr=16000, seconds=1.0, rng=np.random.default_rng(item_seed("synthetic-piano", piano_item)))
    np.testing.assert_array_equal(c.samples[0], alone.samples)  # each source as its own dataset prepares it
    assert drums_item in build_dataset("synthetic-drums", {}).item_ids("test")
    with pytest.raises(ValueError, match="stack: sources must list at least two"):
        build_dataset("stack", {"sources": [{"name": "synthetic-piano"}]})


def test_stack_of_real_corpora_with_stand_in_parameters(tmp_path):
    fx.drums(tmp_path)
    fx.piano(tmp_path)
    spec = {"sources": [{"name": "wavegan-piano", "params": {"clips_per_file": 6}}, {"name": "wavegan-drums"}]}
    stack = build_dataset("stack", spec, tmp_path)
    stack.check()
    assert stack.revision == "1[wavegan-piano@1+wavegan,wavegan-drums@1+wavegan]"
    item = stack.item_ids("test")[0]
    assert stack.load(item, sr=16000, seconds=1.0).samples.shape == (2, 16000)
    assert stack.standin == "stack" and stack.standin_params == {"sources": [
        {"name": "synthetic-piano", "params": {}, "label": "wavegan-piano"},
        {"name": "synthetic-drums", "params": {}, "label": "wavegan-drums"}]}
    standin = build_dataset("stack", stack.standin_params, tmp_path / "nothing-here")
    assert standin.synthetic and standin.load(standin.item_ids("test")[0], sr=16000, seconds=1.0).samples.shape \
        == (2, 16000)
    with pytest.raises(CorpusMissing, match="(?s)wavegan-piano: corpus not found.*wavegan-drums: corpus not found"):
        build_dataset("stack", spec, tmp_path / "nothing-here").check()
