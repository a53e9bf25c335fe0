"""The Mimilakis et al. tables end to end through ``bench.cli.main``: two training seeds, 1 s segments as
items, the pooled median and the oracle binary mask recomputed from the records and the checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.dataset import build_dataset
from bench.methods.sinusoidal_dae import SinusoidalDAEMethod
from bench.seeds import item_seed
from conftest import write_suite

SUITE = """
name = "dae-mini"
items = 3
seeds = [0, 1]
seconds = 0.5
sample_rate = 8000
metrics = ["si_sdr"]
aggregate = "median"
layout = { columns = ["corruption", "metric"], show = [["Reconstruction", "si_sdr"], ["Binary mask", "si_sdr_src1"]] }

[training]
epochs = 2
segment_s = 0.25
tracks_per_set = 2
batch_size = 4
lr = 3e-3

[[methods]]
name = "sinusoidal-dae"
label = "DAE"
params = { channels = 16, hop = 256, sort_atoms = true }
training_data = { tracks = { items = 3, seconds = 1.0, sample_rate = 8000 } }

[[methods]]
name = "stft-binary-mask"
label = "STFT"
corruptions = ["Binary mask"]

[[datasets]]
name = "musdb18"
label = "MUSDB18"
params = { segment_s = 0.5, min_vocal_norm = 0.1 }

[[corruptions]]
name = "source-reconstruction"
label = "Reconstruction"

[[corruptions]]
name = "mixture"
label = "Binary mask"
params = { natural_levels = true, oracle = true }
"""


def _si_sdr(reference, estimate):  # zero-mean SI-SDR, written out again
    reference, estimate = reference - reference.mean(), estimate - estimate.mean()
    target = np.dot(estimate, reference) / np.dot(reference, reference) * reference
    return 10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2))


def test_pooled_median_and_binary_mask_recomputed_from_records(tmp_path):
    suite = write_suite(tmp_path, SUITE, "dae-mini")
    results, report = tmp_path / "results", tmp_path / "report.json"
    common = ["--suite", str(suite), "--synthetic", "--data", str(tmp_path / "no-data"), "--results", str(results)]
    assert main(["run", *common, "--jobs", "1"]) == 0
    assert main(["report", *common, "--format", "json", "-o", str(report)]) == 0
    records = [json.loads(p.read_text()) for p in (results / "cells").glob("*/*.json")]
    assert len(records) == 3 * 2 * 2 + 3 * 2 and all(r["status"] == "ok" for r in records)
    dae = [r for r in records if r["config"]["method"]["name"] == "sinusoidal-dae"]
    assert len({r["config"]["training"] for r in dae}) == 2  # one training job per seed
    assert {r["config"]["dataset"]["standin_for"] for r in records} == {"musdb18"}
    train_ids = set(build_dataset("synthetic-singing", {}).item_ids("train+valid"))
    for key in {r["config"]["training"] for r in dae}:  # trained on the 100 training tracks' split, never a test item
        source = json.loads((results / "training" / key / "job.json").read_text())["config"]["data"]["tracks"]
        assert source["split"] == "train+valid" and len(source["items"]) == 3 and set(source["items"]) <= train_ids
        assert not set(source["items"]) & {r["config"]["item"] for r in records}

    table = json.loads(report.read_text())["tables"][0]
    shown = {(tuple(c["row"]), tuple(c["column"])): c["value"] for c in table["cells"]}
    for label, name in (("DAE", "sinusoidal-dae"), ("STFT", "stft-binary-mask")):
        for corruption, output in (("Reconstruction", "si_sdr"), ("Binary mask", "si_sdr_src1")):
            pooled = [r["scores"][output] for r in records if r["config"]["method"]["name"] == name
                      and r["labels"]["corruption"] == corruption]
            if not pooled:
                continue
            assert len(pooled) == 6  # 3 segments x 2 seeds, pooled
            assert shown[((label,), (corruption, output))] == pytest.approx(float(np.median(pooled)), abs=5e-3)

    # the binary mask, again by hand, from one separation record and its training job's weights
    record = next(r for r in dae if r["config"]["corruption"]["name"] == "mixture")
    dataset = build_dataset("synthetic-singing", record["config"]["dataset"]["params"])
    item = record["config"]["item"]
    clip = dataset.load(item, sr=8000, seconds=0.5, rng=np.random.default_rng(item_seed("synthetic-singing", item)))
    vocals, accompaniment = clip.samples
    method = SinusoidalDAEMethod(channels=16, hop=256, sort_atoms=True)
    method.load_trained(results / "training" / record["config"]["training"] / "trained.pt")
    with torch.no_grad():
        enc = lambda x: method.model.encode(torch.tensor(x, dtype=torch.float32)[None]).numpy()  # noqa: E731
        a_mix, a_v, a_b = enc(vocals + accompaniment), enc(vocals), enc(accompaniment)
        with np.errstate(divide="ignore", invalid="ignore"):
            mask = (a_v / a_b) > 0.5
        estimate = method.model.decode(torch.tensor(a_mix * mask), vocals.size)[0].numpy()
    assert record["scores"]["si_sdr_src1"] == pytest.approx(_si_sdr(vocals.astype(np.float64), estimate), abs=1e-3)


TABLES = ["mimilakis2020-table1", "mimilakis2020-table2"]


def test_the_umbrella_suite_includes_both_tables():
    from bench.suite import load_suite

    assert [t.name for t in load_suite("mimilakis2020").tables()] == TABLES


@pytest.mark.parametrize("name", TABLES)
def test_paper_protocol_and_references_point_at_shown_cells(name):
    from bench.suite import load_suite

    suite = load_suite(name)
    settings = suite.resolved("paper")
    assert settings["aggregate"] == "median" and settings["seeds"] == [0, 1, 2] and settings["items"] == "all"
    assert settings["seconds"] == 1.0 and settings["sample_rate"] == 44100
    assert "S = 384" in suite.title
    for m in suite.methods:  # the paper's hop, as the title says
        if m.name == "sinusoidal-dae":
            assert m.params.get("hop", SinusoidalDAEMethod().hop) == 384
    methods, corruptions = {m.label for m in suite.methods}, {c.label for c in suite.corruptions}
    shown = {tuple(c) for c in suite.layout.get("show", [])} or {(c, "si_sdr") for c in corruptions}
    for ref in suite.references:
        assert ref["method"] in methods and (ref["corruption"], ref["metric"]) in shown
    by_row = {r["method"]: r["mean"] for r in suite.references if r["metric"] == "si_sdr"}
    if name.endswith("table1"):  # the paper's best reconstruction: conv/mod-cos with f_c^2
        assert len(suite.references) == 7 and max(by_row, key=by_row.get) == "conv/mod-cos (f_c^2), C = 800"
    else:  # 6 models x (SI-SDR, BM SI-SDR) and the STFT's BM SI-SDR
        assert len(suite.references) == 13
        bm = {r["method"]: r["mean"] for r in suite.references if r["metric"] == "si_sdr_src1"}
        assert max(bm, key=bm.get).startswith("STFT") and bm["conv/mod-cos, C = 1600, TV on A_m"] == 6.68


def test_smoke_grid_trains_every_row_once_per_seed():
    from bench.cells import expand
    from bench.suite import load_suite

    cells = expand(load_suite("mimilakis2020"), "smoke", synthetic=True)
    trained = [c for c in cells if c.config["method"]["name"] == "sinusoidal-dae"]
    assert len({c.config["training"] for c in trained}) == 13  # 7 + 6 rows, one seed under smoke
    assert len(cells) == 7 * 2 + 6 * 2 * 2 + 2 * 2
    assert all(c.config["dataset"]["standin_for"] == "musdb18" for c in cells)
