"""The waveform-prior suites: protocol, cell grid, and paper numbers that point at real rows and columns."""
import pytest

from bench.metrics import get_metric
from bench.planning.cells import expand
from bench.planning.suite import load_suite

TABLES = ["waveform-prior-table1", "waveform-prior-table2", "waveform-prior-table3"]
CURVES = ["waveform-prior-curves-gaussian", "waveform-prior-curves-uniform"]


def test_the_umbrella_suite_includes_the_tables_and_both_curves():
    assert [t.name for t in load_suite("waveform-prior").tables()] == TABLES + CURVES


@pytest.mark.parametrize("name", TABLES + CURVES)
def test_paper_protocol_and_selection(name):
    suite = load_suite(name)
    settings = suite.resolved("paper")
    assert suite.protocol["iterations"] == 3000 and suite.protocol["lr"] == 1e-4
    assert settings["select"] == "oracle:each" and settings["seconds"] == 2.0 and settings["items"] == 20


@pytest.mark.parametrize("name", TABLES)
def test_every_reference_names_a_row_a_column_and_a_metric_output(name):
    suite = load_suite(name)
    rows = {m.label for m in suite.methods} | {c.label for c in suite.corruptions}
    datasets = {d.label for d in suite.datasets}
    outputs = {o for metric in suite.metrics for o in get_metric(metric).output_names}
    assert suite.references
    for ref in suite.references:
        assert ref["method"] in rows and ref["dataset"] in datasets and ref["metric"] in outputs, ref
        if "corruption" in ref:
            assert ref["corruption"] in rows, ref


def test_table3_is_the_ablation_of_one_network():
    suite = load_suite("waveform-prior-table3")
    priors = [m for m in suite.methods if "(not in the paper)" not in m.label]
    assert {m.name for m in priors} == {"waveform-demucs"}
    assert len({m.params["variant"] for m in priors}) == 9
    assert [(c.name, c.params["si_snr"]) for c in suite.corruptions] == [("uniform-noise", 2.5)]


def test_table2_compares_wave_unet_with_demucs_on_gaps_of_1_2_and_5_ms():
    suite = load_suite("waveform-prior-table2")
    assert {m.name for m in suite.methods if "(not in the paper)" not in m.label} == {"wave-unet", "waveform-demucs"}
    assert [(c.name, c.params["ms"]) for c in suite.corruptions] == [("waveform-gap", ms) for ms in (1, 2, 5)]


def test_smoke_grid_runs_short_fits_on_stand_ins():
    cells = expand(load_suite("waveform-prior"), "smoke", synthetic=True)
    fitted = [cell for cell in cells if "iterations" in cell.config["protocol"]]  # the classical rows fit nothing
    assert fitted and all(cell.config["protocol"]["iterations"] <= 3 for cell in fitted)
    assert all(cell.dataset.get("standin_for") for cell in cells)
    keys = [cell.key for cell in cells]
    assert len(keys) == len(set(keys))


def test_table1_dereverberates_at_the_papers_three_rt60s():
    """Table 1's discussion: "When the reverberation is very weak (Rt60=0.1) [...] When the reverberations are of
    medium strength (Rt60=0.2) [...] When Rt60=0.5 the reverberations are too strong". Found by mutating the
    suites' parameters (benchmarks/mutate_suite_parameters.py)."""
    rt60s = [c.params["rt60"] for c in load_suite("waveform-prior-table1").corruptions if c.name == "reverb"]
    assert rt60s == [0.1, 0.2, 0.5]


@pytest.mark.parametrize("name", TABLES + CURVES)
def test_every_suite_samples_at_the_papers_16_khz(name):
    """Sec. 4: "The audio was sampled at 16Khz in all sections, for all audio types to allow for fair
    comparison". Found by mutating the suites' parameters (benchmarks/mutate_suite_parameters.py)."""
    import tomllib

    assert tomllib.loads(load_suite(name).path.read_text())["sample_rate"] == 16000
