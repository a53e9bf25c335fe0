"""The Mimilakis et al. tables end to end through ``bench.cli.main``: two training seeds, 1 s segments as
items, the pooled median and the oracle binary mask recomputed from the records and the checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bench.methods.sinusoidal_dae import SinusoidalDAEMethod
from conftest import write_suite

from bench.cli import main
from bench.components.dataset import build_dataset
from bench.core.seeds import item_seed

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
    from bench.planning.suite import load_suite

    assert [t.name for t in load_suite("mimilakis2020").tables()] == TABLES


@pytest.mark.parametrize("name", TABLES)
def test_paper_protocol_and_references_point_at_shown_cells(name):
    from bench.planning.suite import load_suite

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
    from bench.planning.cells import expand
    from bench.planning.suite import load_suite

    cells = expand(load_suite("mimilakis2020"), "smoke", synthetic=True)
    trained = [c for c in cells if c.config["method"]["name"] == "sinusoidal-dae"]
    assert len({c.config["training"] for c in trained}) == 13  # 7 + 6 rows, one seed under smoke
    assert len(cells) == 7 * 2 + 6 * 2 * 2 + 2 * 2
    assert all(c.config["dataset"]["standin_for"] == "musdb18" for c in cells)


# The paper's (and its public code's) numbers, written here, not read from the code. Sources:
# Sec. 3: "MUSDB18 data-set [26] that consists of 150 two-channel multi-tracks, sampled at 44100Hz"
# Sec. 3: "partitioned into overlapping segments of N = 44100 samples with an overlap of 22050 samples"
# Sec. 3: "The standard deviation of the additive Gaussian noise corruption is set to 1e - 4. A batch of 8
#          segments per signal ... using adam algorithm [27] with a learning rate of 1e - 4"
# Sec. 3: "During training we sample a set of four multi-tracks"
# Sec. 3: "C = 800, S = 384, L = 2048, L' = 5, D = 10, and lambda = 0.5" and "we set the total number of
#          iterations throughout the whole data to 10"
# Sec. 3: "For evaluation we use the rest 50 tracks, that are down-mixed to a single channel and segmented
#          into non-overlapping signals ... for evaluation we discard silent segments"; the threshold is the
#          public code's (REFERENCE-NOTES, exp_fe_test.py): "keep a segment when 10 log10(||vocal||_2) >= -10,
#          i.e. ||vocal||_2 >= 0.1 (a norm, not an energy)"
# Sec. 3: "we report the median value of SI-SDR across segments and three experimental runs"
# Sec. 4: "C in {400, 800, 1600}" (Table 2); Table 1: C = 952 for conv/cos and sinc/mod-cos, 800 otherwise
# Sec. 4: "The STFT uses a hop-size of 384 samples, a window size of 2048 samples ... the hamming windowing"
# Sec. 3 (the first experiment, Table 1, only): "employing the early stopping mechanism to terminate the
#          training procedure if the model has stopped decreasing the loss expressed in Eq. (5)"
PAPER_RATE, PAPER_SEGMENT_S, PAPER_MIN_VOCAL_NORM, PAPER_RUNS = 44100, 44100 / 44100, 0.1, 3
PAPER_TRAINING = {"epochs": 10, "batch_size": 8, "lr": 1e-4, "segment_s": 44100 / 44100, "overlap": 22050 / 44100,
                  "tracks_per_set": 4, "noise_std": 1e-4, "tv_weight": 0.5}
PAPER_EARLY_STOPPING = {"mimilakis2020-table1": True, "mimilakis2020-table2": False}
PAPER_CHANNELS = {"mimilakis2020-table1": {"conv/cos (linear f_c), C = 952": 952, "conv/cos (f_c^2), C = 952": 952,
                                           "conv/conv, C = 800": 800, "conv/conv (tanh), C = 800": 800,
                                           "conv/mod-cos (linear f_c), C = 800": 800,
                                           "conv/mod-cos (f_c^2), C = 800": 800, "sinc/mod-cos (f_c^2), C = 952": 952},
                  "mimilakis2020-table2": {f"conv/mod-cos, C = {c}, TV on {a}": c for c in (400, 800, 1600)
                                           for a in ("A_v", "A_m")}}


@pytest.mark.parametrize("name", TABLES)
def test_every_suite_parameter_is_the_papers(name):
    """The suite file as written (tomllib, not the loader's defaults) against the paper's numbers above: a
    changed dataset, corruption, training or evaluation parameter fails here with its name."""
    import tomllib

    from bench.datasets.musdb18 import MUSDB18

    from bench.planning.suite import load_suite

    suite = load_suite(name)
    raw = tomllib.loads(suite.path.read_text())
    assert (raw["seconds"], raw["sample_rate"], len(raw["seeds"])) == (PAPER_SEGMENT_S, PAPER_RATE, PAPER_RUNS)
    assert raw["aggregate"] == "median" and raw["items"] == "all"
    (dataset,) = raw["datasets"]
    assert dataset["name"] == "musdb18" and "split" not in dataset and "split" not in raw
    assert MUSDB18.default_split == "test"  # the 50 test tracks
    assert dataset["params"] == {"segment_s": PAPER_SEGMENT_S, "min_vocal_norm": PAPER_MIN_VOCAL_NORM}
    corruptions = {c["label"]: (c["name"], c.get("params")) for c in raw["corruptions"]}
    assert corruptions.pop("Reconstruction") == ("source-reconstruction", {"source": 1})  # vocals
    assert MUSDB18.default_sources[0] == "vocals"
    assert corruptions in ({}, {"Binary mask": ("mixture", {"natural_levels": True, "oracle": True})})
    rows = [m for m in suite.methods if m.name == "sinusoidal-dae"]
    assert {m.label: m.params["channels"] for m in rows} == PAPER_CHANNELS[name]
    for m in rows:
        assert m.params.get("hop", SinusoidalDAEMethod().hop) == 384
        assert "training_data" not in m.extra  # the method's own: MUSDB18's 100 training tracks at 44.1 kHz
        stops = {"stop_when_loss_stops_falling": True} if PAPER_EARLY_STOPPING[name] else {}  # else left out
        assert suite.training_for(m, SinusoidalDAEMethod.training_defaults, "paper") == \
            pytest.approx({**PAPER_TRAINING, **stops}, rel=1e-12)
    source = SinusoidalDAEMethod.training_data["tracks"]
    # the paper's 100 training tracks: the musdb package's "train" (86) and "valid" (14) together
    assert (source["dataset"], source["split"], source["sample_rate"]) == ("musdb18", "train+valid", PAPER_RATE)
    stft = [m.params for m in suite.methods if m.name == "stft-binary-mask"]
    assert stft in ([], [{"n_fft": 2048, "hop": 384, "window": "hamming"}])


def test_the_atoms_are_sorted_in_the_second_experiment_only():
    """Sec. 4: "for the second set of experiments the modulated cosine functions are sorted after each gradient
    update, as explained in Section 2.2, whereas in the first they are not." (found by mutating the suites'
    parameters, benchmarks/mutate_suite_parameters.py)"""
    from bench.planning.suite import load_suite

    for name, sort_atoms in (("mimilakis2020-table1", False), ("mimilakis2020-table2", True)):
        rows = [m for m in load_suite(name).methods if m.name == "sinusoidal-dae"]
        assert rows and all(m.params.get("sort_atoms", False) is sort_atoms for m in rows)
