"""--backend submitit, run through submitit's LocalExecutor (the same pickled jobs a SLURM array runs)."""
import os

import pytest

from bench.cli import main
from bench.planning.cells import expand
from bench.planning.suite import load_suite
from bench.records.store import ResultsStore
from bench.running.scheduler import run
from bench.running.submitit_backend import SlurmOptions

pytest.importorskip("submitit")


def test_local_submitit_jobs_give_the_scores_of_local_workers(tmp_path):
    cells = expand(load_suite("smoke"), "smoke")
    cells = [c for c in cells if c.method["name"] == "identity"][:2] + \
        [c for c in cells if c.method["name"] != "identity"][:2]
    local, jobs = ResultsStore(tmp_path / "local"), ResultsStore(tmp_path / "submitit")
    assert run(cells, local, jobs=2, progress=False).ok == len(cells)
    summary = run(cells, jobs, backend="submitit-local", progress=False)
    assert summary.ok == len(cells) and not summary.failures
    for cell in cells:
        a, b = local.read(cell.key), jobs.read(cell.key)
        assert a["scores"] == b["scores"] and a["input_scores"] == b["input_scores"]
        assert b["device"] == "cpu"
    assert list((tmp_path / "submitit" / "submitit").glob("*_log.out"))  # submitit's logs, by default


CRASH_SUITE = """
name = "crash"
items = 3
seeds = [0]
seconds = 0.1
metrics = ["si_sdr"]
[[methods]]
name = "test-crash"
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
"""


def test_a_job_that_dies_fails_only_its_cells_and_a_rerun_submits_nothing(tmp_path, capsys):
    suite = tmp_path / "crash.toml"
    suite.write_text(CRASH_SUITE)
    cells = expand(load_suite(str(suite)))
    crashing = {c.key for c in cells if c.method_seed % 3 == 0}
    assert 0 < len(crashing) < len(cells)
    results, logs = tmp_path / "r", tmp_path / "logs"
    args = ["run", "--suite", str(suite), "--results", str(results), "--backend", "submitit-local",
            "--slurm-logs", str(logs), "--no-progress"]
    assert main(args) == 1  # cells failed
    store = ResultsStore(results)
    for cell in cells:
        record = store.read(cell.key)
        if cell.key in crashing:
            assert record["status"] == "failed" and record["error"].startswith("submitit job ")
        else:
            assert record["status"] == "ok"
    assert list(logs.glob("*_submitted.pkl"))  # --slurm-logs is where submitit keeps its files
    capsys.readouterr()
    assert main(args) == 1  # the failed cells are still failed: a rerun finds every cell recorded
    err = capsys.readouterr().err
    assert "0 to run" in err and "submitted" not in err


def test_slurm_options_are_checked_before_anything_runs(tmp_path, capsys):
    code = main(["run", "--suite", "smoke", "--results", str(tmp_path / "r"), "--backend", "submitit",
                 "--slurm-time", "0", "--no-progress"])
    assert code == 2 and "--slurm-time 0" in capsys.readouterr().err
    assert not list((tmp_path / "r").glob("cells/*/*.json"))


def test_the_sbatch_script_asks_for_the_partition_time_and_gpus(tmp_path, monkeypatch):
    """No SLURM here: submitit only looks for an ``srun`` program before writing the sbatch script, which is
    what this test reads (nothing is submitted)."""
    from bench.running.submitit_backend import make_executor

    programs = tmp_path / "bin"
    programs.mkdir()
    (programs / "srun").write_text("#!/bin/sh\nexit 1\n")
    (programs / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{programs}:{os.environ['PATH']}")
    options = SlurmOptions(partition="gpu", time_min=90, gpus_per_task=1, max_parallel=4)
    script = make_executor("slurm", tmp_path / "logs", options)._executor._make_submission_file_text("cmd", "x")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --ntasks-per-node=1"):
        assert line in script.splitlines()


TRAINED_SUITE = """
name = "trained-submitit"
items = 2
seeds = [0]
seconds = 0.25
sample_rate = 8000
metrics = ["si_sdr"]
[training]
epochs = 1
[[methods]]
name = "test-trained-denoiser"
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "gaussian-noise"
params = { snr = 5 }
"""


def test_training_jobs_run_as_submitit_jobs_and_give_the_local_weights(tmp_path, capsys):
    """A trained method's training goes where the cells go (not to the submitting machine): an array of its
    own before the cells', with the weights and scores of local training."""
    import torch

    from bench.components.training import trained_path

    suite = tmp_path / "trained.toml"
    suite.write_text(TRAINED_SUITE)
    common = ["run", "--suite", str(suite), "--no-progress", "--no-report"]
    assert main([*common, "--results", str(tmp_path / "local"), "--jobs", "1"]) == 0
    capsys.readouterr()
    logs = tmp_path / "logs"
    assert main([*common, "--results", str(tmp_path / "jobs"), "--backend", "submitit-local",
                 "--slurm-logs", str(logs)]) == 0
    err = capsys.readouterr().err
    training, cells_part = err.split("submitted 1 local submitit jobs")
    assert "training 1 job(s)" in training and "submitted 2 local submitit jobs" in cells_part
    assert len(list(logs.glob("*_result.pkl"))) == 3  # one training job, then one job per cell
    cells = expand(load_suite(str(suite)))
    [key] = {c.training.key for c in cells}
    local = torch.load(trained_path(tmp_path / "local", key), weights_only=False)
    remote = torch.load(trained_path(tmp_path / "jobs", key), weights_only=False)
    assert local["model"].keys() == remote["model"].keys()
    assert all(torch.equal(local["model"][k], remote["model"][k]) for k in local["model"])
    for cell in cells:
        assert ResultsStore(tmp_path / "jobs").read(cell.key)["scores"] == \
            ResultsStore(tmp_path / "local").read(cell.key)["scores"]


def test_compare_sends_its_cells_through_submitit_too(tmp_path, capsys):
    suite = tmp_path / "cmp.toml"
    suite.write_text(CRASH_SUITE.replace('name = "test-crash"', 'name = "spectral-wiener"\n[[methods]]\nname = "identity"'))
    code = main(["compare", "--suite", str(suite), "--candidate", "spectral-wiener", "--baseline", "identity",
                 "--results", str(tmp_path / "r"), "--backend", "submitit-local", "--slurm-logs",
                 str(tmp_path / "logs"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0 and "submitted 6 local submitit jobs" in err  # a job per cell; Wiener is no regression
    assert len(list((tmp_path / "r").glob("cells/*/*.json"))) == 6
