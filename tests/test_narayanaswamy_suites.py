"""The narayanaswamy2021 suites: protocol, cell grid, and paper numbers that point at real rows and columns."""
import pytest

from bench.components.fitting import default_batch
from bench.core.registry import METHODS
from bench.metrics import get_metric
from bench.planning.cells import expand
from bench.planning.suite import load_suite

TABLES = [f"narayanaswamy2021-table{i}" for i in range(1, 5)]


def test_the_umbrella_suite_includes_the_four_tables():
    assert [t.name for t in load_suite("narayanaswamy2021").tables()] == TABLES


@pytest.mark.parametrize("name", TABLES + ["narayanaswamy2021-figure2"])
def test_paper_protocol_and_selection(name):
    suite = load_suite(name)
    settings = suite.resolved("paper")
    assert suite.protocol["iterations"] == 2000 and suite.protocol["lr"] == 0.001
    # the paper's rule: every metric at the best-SNR iterate (Table 4: the SNR's mean over both sources)
    assert settings["select"] == "oracle:snr" and "snr" in suite.metrics
    assert settings["sample_rate"] == 16000


@pytest.mark.parametrize("name", TABLES)
def test_every_reference_names_a_row_a_column_and_a_metric_output(name):
    suite = load_suite(name)
    methods, datasets = {m.label for m in suite.methods}, {d.label for d in suite.datasets}
    outputs = {o for metric in suite.metrics for o in get_metric(metric).output_names}
    assert suite.references
    for ref in suite.references:
        assert ref["method"] in methods and ref["dataset"] in datasets
        assert ref["metric"].split("_src")[0] in outputs
        assert ref["std"] >= 0


def test_reference_counts_match_the_papers_tables():
    counts = {name: len(load_suite(name).references) for name in TABLES}
    # Table 1: 4 designs x (LJ PESQ, PSNR; digits PESQ, PSNR; piano PSNR); Table 2: 3 designs x 5;
    # Table 3: 4 x (2 datasets x 2 metrics); Table 4: 4 x (4 metrics x 2 sources).
    assert counts == {TABLES[0]: 20, TABLES[1]: 15, TABLES[2]: 16, TABLES[3]: 32}


def test_the_dense_exponential_design_is_the_best_row_in_the_papers_table1_psnr():
    refs = [r for r in load_suite(TABLES[0]).references if r["metric"] == "snr" and r["dataset"] == "LJ-Speech"]
    assert max(refs, key=lambda r: r["mean"])["method"] == "Dilated Conv. (exp) + Dense"
    assert [r["mean"] for r in refs] == [6.85, 7.18, 7.68, 8.15]


def test_smoke_grid_with_synthetic_stand_ins():
    cells = expand(load_suite("narayanaswamy2021"), "smoke", synthetic=True)
    by_table = {}
    for cell in cells:
        by_table[cell.labels["suite"]] = by_table.get(cell.labels["suite"], 0) + 1
    assert by_table == {TABLES[0]: 36, TABLES[1]: 60, TABLES[2]: 24, TABLES[3]: 12}  # with the classical rows
    fitted = [cell for cell in cells if "iterations" in cell.config["protocol"]]  # the classical rows fit nothing
    assert fitted and all(cell.config["protocol"]["iterations"] == 3 for cell in fitted)
    assert all(cell.dataset.get("standin_for") or cell.dataset["name"] == "stack" for cell in cells)


def test_separation_rows_use_each_design_as_prior():
    priors = [m.params["prior"] for m in load_suite(TABLES[3]).methods if m.name == "dap-separation"]
    assert priors == ["conv", "dilated", "exp", "exp-dense"]


def test_batch_size_is_one_on_the_cpu_and_set_by_the_environment(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    default_batch.cache_clear()
    try:
        monkeypatch.setenv("BENCH_PRIOR_BATCH", "6")
        assert METHODS.get("unet-exp-dense").obj.max_batch == 6
        default_batch.cache_clear()
        monkeypatch.delenv("BENCH_PRIOR_BATCH")
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible
        assert METHODS.get("dap-separation").obj.max_batch == 1
    finally:
        default_batch.cache_clear()


def test_table1_scores_the_papers_50_samples_of_each_dataset():
    """Sec. 4.1: "We report the performance metrics obtained on 50 random samples from each of the datasets."
    (Table 2's suite draws 25 clips under each of its two noises: 50 observations, as its description says.)
    Found by mutating the suites' parameters (benchmarks/mutate_suite_parameters.py)."""
    import tomllib

    def raw(name):
        return tomllib.loads(load_suite(name).path.read_text())

    assert raw("narayanaswamy2021-table1")["items"] == 50
    table2 = raw("narayanaswamy2021-table2")
    assert table2["items"] * len(table2["corruptions"]) == 50
