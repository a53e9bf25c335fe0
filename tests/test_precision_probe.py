"""The precision that runs is proven on the machine first (bench.components.precision_probe): planted candidates whose
probe child segfaults, hangs or yields NaN are refused and the next one runs, the record and the key say
which; verdicts are cached; an explicit bf16 that is refused fails its cell with one line."""
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.commands.arguments import held_precisions
from bench.components import precision_probe
from bench.components.fitting import FittedPrior
from bench.components.method import method
from bench.components.precision_probe import FP32, Candidate, probe, resolve
from bench.planning.cells import expand
from bench.planning.suite import read_suite_file
from bench.records.from_records import cells_from_records
from bench.records.store import ResultsStore
from bench.reporting.tables import build_tables
from bench.running.worker import run_cell

PLANTS = "probe_plants"  # tests/plugins/probe_plants.py, on the children's PYTHONPATH (conftest)
OK = Candidate("planted-ok", bf16=True, channels_last=False, runner=f"{PLANTS}:runs")


def planted(how: str, name: str = "planted-bad") -> Candidate:
    return Candidate(name, bf16=True, channels_last=True, runner=f"{PLANTS}:{how}")


@method("test-tiny-prior", version="1")
class TinyPrior(FittedPrior):
    """A one-layer fitted prior on the waveform: the cheapest FittedPrior a cell can run."""

    tasks = ("denoising",)
    chain: list = [FP32]  # set by the tests: the candidates its precision setting tries

    def network(self):
        return nn.Conv1d(1, 1, 3, padding=1)

    def input_shape(self, observation):
        return (1, observation.signal.shape[-1])

    def precision_chain(self, device):
        return list(type(self).chain)

    def problem_tensors(self, observation):
        return {"signal": torch.from_numpy(observation.signal.astype("float32"))}

    def objective(self, outputs, problems, step, schedule):
        return ((outputs[:, 0] - problems.tensors["signal"]) ** 2).mean(-1)

    def signals(self, outputs, problems):
        return outputs[:, 0]


SUITE = """
name = "probe"
items = {items}
seeds = [0]
seconds = 0.05
sample_rate = 8000
metrics = ["si_sdr"]
[protocol]
iterations = 2
[[methods]]
name = "test-tiny-prior"
params = {params}
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


@pytest.fixture(autouse=True)
def fresh_verdicts(tmp_path, monkeypatch):
    """An empty cache and memo, a log of planted children, a short hang limit."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PROBE_PLANT_LOG", str(tmp_path / "children.log"))
    monkeypatch.setenv("BENCH_PROBE_TIMEOUT_S", "8")
    monkeypatch.setenv("BENCH_PLAN_DEVICE", "cpu")
    monkeypatch.delenv("BENCH_COMPILE", raising=False)
    precision_probe._memo.clear()
    precision_probe._planned.cache_clear()
    yield
    precision_probe._memo.clear()
    precision_probe._planned.cache_clear()


def children(tmp_path) -> list[str]:
    log = tmp_path / "children.log"
    return log.read_text().split() if log.exists() else []


def cells(tmp_path, chain, params="{}", items=1):
    TinyPrior.chain = chain
    precision_probe._planned.cache_clear()  # planning remembers its choice per process
    path = tmp_path / "probe.toml"
    path.write_text(SUITE.replace("{params}", params).replace("{items}", str(items)))
    return expand(read_suite_file(path), "paper")


@pytest.mark.parametrize("how,reason", [("segfault", "the probe died with SIGSEGV"),
                                        ("hang", "the probe hung (no answer within 8 s)"),
                                        ("nan", "non-finite loss, output or gradient")])
def test_a_refused_candidate_falls_back_to_the_next_and_the_record_says_why(tmp_path, how, reason):
    [cell] = cells(tmp_path, [planted(how), OK, FP32])
    assert cell.config["precision"] == {"ran": "planted-ok", "compile": False}
    assert children(tmp_path) == ["planted-bad", "planted-ok"]  # fp32 after them is not reached
    record = run_cell(cell)
    assert record["status"] == "ok", record["error"]
    refused = record["precision"].pop("refused")
    assert record["precision"] == {"requested": "auto", "ran": "planted-ok", "compiled": False}
    assert len(refused) == 1 and refused[0]["candidate"] == "planted-bad" and reason in refused[0]["reason"]
    assert children(tmp_path) == ["planted-bad", "planted-ok"]  # the worker's re-check found the verdicts


def test_verdicts_are_cached_across_processes(tmp_path):
    target = {"method": "test-tiny-prior", "params": {}, "shape": [1, 400], "device": "cpu"}
    first = resolve("auto", target, [planted("segfault"), OK, FP32])
    assert len(children(tmp_path)) == 2
    precision_probe._memo.clear()  # as a new worker process: only the cache folder remains
    again = resolve("auto", target, [planted("segfault"), OK, FP32])
    assert len(children(tmp_path)) == 2  # no second child
    assert (again.ran, again.refused) == (first.ran, first.refused)
    files = list((tmp_path / "cache" / "precision-probes").glob("*.json"))
    assert len(files) == 2 and not list(files[0].parent.glob("*.tmp"))
    other_shape = dict(target, shape=[1, 800])  # another shape is another verdict
    resolve("auto", other_shape, [planted("segfault"), OK, FP32])
    assert len(children(tmp_path)) == 4


def test_cache_off_probes_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", "off")
    target = {"method": "test-tiny-prior", "params": {}, "shape": [1, 400], "device": "cpu"}
    for _ in range(2):
        assert resolve("auto", target, [OK, FP32]).ran == OK
    assert children(tmp_path) == ["planted-ok"]
    assert not (tmp_path / "cache").exists()


def test_float32_as_the_last_resort_is_not_probed(tmp_path):
    target = {"method": "test-tiny-prior", "params": {}, "shape": [1, 400], "device": "cpu"}
    assert resolve("auto", target, [FP32]).ran == FP32
    assert resolve("fp32", target, [FP32]).ran == FP32
    assert children(tmp_path) == []


def test_an_explicit_bf16_that_is_refused_fails_its_cell_with_one_line(tmp_path):
    both = [planted("segfault", "planted-cl"), Candidate("planted-nchw", True, False, runner=f"{PLANTS}:nan")]
    [cell] = cells(tmp_path, both, '{ precision = "bf16" }')
    assert cell.config["precision"]["ran"] == "planted-cl"  # nothing runs: the worker says why
    record = run_cell(cell)  # the crash happened in a probe's child: this process goes on
    assert record["status"] == "failed"
    line = record["error"].splitlines()[0]
    assert 'precision = "bf16" cannot run on this machine' in line
    assert "planted-cl refused: the probe died with SIGSEGV" in line and "planted-nchw refused" in line
    assert 'set precision = "fp32" or "auto"' in line
    assert "trace" not in record or not record["trace"]  # no fit started


def test_a_promised_configuration_refused_on_the_running_machine_fails_the_cell(tmp_path, monkeypatch):
    [cell] = cells(tmp_path, [OK, FP32])
    assert cell.config["precision"]["ran"] == "planted-ok"
    TinyPrior.chain = [Candidate("planted-ok", True, False, runner=f"{PLANTS}:segfault"), FP32]  # another machine
    precision_probe._memo.clear()
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "other-machine-cache"))
    record = run_cell(cell)
    line = record["error"].splitlines()[0]
    assert record["status"] == "failed" and "promises precision planted-ok, which this machine refuses" in line
    assert "here it would run fp32" in line


def test_an_fp32_record_and_a_bf16_record_of_one_cell_do_not_share_a_key(tmp_path, monkeypatch):
    [bf16] = cells(tmp_path, [OK, FP32])
    [fp32] = cells(tmp_path, [FP32])
    assert bf16.key != fp32.key
    assert {k: v for k, v in bf16.config.items() if k != "precision"} == \
           {k: v for k, v in fp32.config.items() if k != "precision"}
    TinyPrior.chain = [OK, FP32]  # the machine that planned both
    assert [run_cell(c)["precision"]["ran"] for c in (bf16, fp32)] == ["planted-ok", "fp32"]
    monkeypatch.setenv("BENCH_COMPILE", "1")
    [compiled] = cells(tmp_path, [FP32])
    assert compiled.config["precision"] == {"ran": "fp32", "compile": True} and compiled.key != fp32.key


def test_a_report_of_a_folder_two_machines_filled_names_the_mixed_precisions(tmp_path):
    store = ResultsStore(tmp_path / "results")
    first, _ = cells(tmp_path, [OK, FP32], items=2)  # machine A: its probe passes planted-ok
    store.write(run_cell(first))
    here = cells(tmp_path, [FP32], items=2)  # machine B: float32 only; it runs the other item
    store.write(run_cell(here[1]))
    assert store.status_of(here[0].key) is None  # this machine's key of item 0 is not in the folder
    suite = read_suite_file(tmp_path / "probe.toml")
    shown = held_precisions(here, cells_from_records(suite, store.records()), store)
    assert [c.key for c in shown] == [first.key, here[1].key]
    [table] = build_tables(suite, shown, store, "paper")
    assert "MIXED PRECISION: test-tiny-prior: planted-ok (1 cells), fp32 (1 cells)." in table.banners
    [alone] = build_tables(suite, [here[1]], store, "paper")
    assert not any("PRECISION" in banner for banner in alone.banners)


def test_the_real_probe_runs_a_prior_network(tmp_path, monkeypatch):
    """The default runner: one forward, backward and Adam step of a registered prior at a small shape."""
    monkeypatch.setenv("BENCH_PROBE_TIMEOUT_S", "300")  # torch's import on a busy machine
    target = {"method": "unet-conv", "params": {}, "shape": [2, 512, 16], "device": "cpu"}
    assert probe(target, FP32) is None
    assert "the probe failed" in probe(dict(target, method="no-such-method"), FP32)
    assert probe(dict(target, method="test-nan-network", shape=[1, 8]), FP32) == \
        "the probe failed: non-finite loss, output or gradient"


def _has_avx512_bf16() -> bool:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx512_bf16(), reason="issue 30's crash needs a CPU with AVX-512 BF16")
def test_auto_never_picks_a_configuration_that_crashes_the_dilated_convolution(tmp_path):
    """Issue 30's reproduction in a child: where bf16 channels-last segfaults (AMD Zen 4/5, torch 2.13), auto
    must choose another configuration; where it runs (AMX), it stays the choice."""
    runner = f"{PLANTS}:dilated_conv_backward"
    chain = [Candidate("bf16-channels-last", True, True, runner), Candidate("bf16-nchw", True, False, runner),
             Candidate("fp32", False, False, runner)]
    target = {"method": "conv2d-35-dilation-9", "params": {}, "shape": [35, 256, 64], "device": "cpu"}
    chosen = resolve("auto", target, chain)
    assert chosen.ran is not None
    precision_probe._memo.clear()
    assert probe(target, chosen.ran) is None  # run again on its own: it does not crash here
    crashed = [name for name, reason in chosen.refused if "died" in reason]
    assert all(name != chosen.ran.name for name in crashed)
