"""The training stage (bench.components.training, bench.running.train_stage): keys, resumption, failures, sharing, commands.

The trained method is tests/plugins' ``test-trained-denoiser`` (a 1-D convolution learnt on synthetic speech).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.components.training import TrainingJob, run_job
from bench.planning import training_jobs
from bench.planning.cells import expand
from bench.planning.suite import parse_suite
from bench.records.store import ResultsStore

SUITE = """
name = "{name}"
items = {items}
seeds = [0]
seconds = 0.25
sample_rate = 8000
metrics = ["si_sdr"]

[training]
epochs = {epochs}

[[methods]]
name = "test-trained-denoiser"
label = "{label}"
params = {params}

[[methods]]
name = "identity"
label = "Noisy"

[[datasets]]
name = "synthetic-speech"

[[corruptions]]
name = "gaussian-noise"
params = {{ snr = 5 }}
"""


def suite_text(name="t-train", items=2, epochs=2, label="Trained", params="{}", extra=""):
    return SUITE.format(name=name, items=items, epochs=epochs, label=label, params=params) + extra


def _suite(**kw):
    import tomllib

    return parse_suite(tomllib.loads(suite_text(**kw)))


def _jobs(suite, profile="paper"):
    cells = expand(suite, profile)
    return {c.training.key for c in cells if c.training is not None}, cells


def _trained_cells(cells):
    return sorted((c for c in cells if c.training is not None), key=lambda c: c.config["item"])


# -- keys -----------------------------------------------------------------------------------------------
def test_training_key_changes_exactly_when_training_changes(monkeypatch):
    base, base_cells = _jobs(_suite())
    assert len(base) == 1
    (key,) = base
    # what does not shape the weights: the suite's name, labels, the test items, the other methods
    assert _jobs(_suite(items=3))[0] == base
    same, same_cells = _jobs(_suite(name="other", label="Another label"))
    assert same == base
    # ... and the cells of the trained method keep their keys
    assert {c.key for c in _trained_cells(base_cells)} == {c.key for c in _trained_cells(same_cells)}
    # what does: the training protocol, the method's parameters, the training data, the seed, versions
    assert _jobs(_suite(epochs=3))[0] != base
    assert _jobs(_suite(params="{ width = 5 }"))[0] != base
    another_row = _jobs(_suite(extra='\n[[methods]]\nname = "test-trained-denoiser"\nlabel = "x"\n'
                                     'training = { lr = 0.02 }\n'))[0]
    assert len(another_row) == 2 and base < another_row  # its own job; the first row keeps its own
    more_data = parse_suite({**_raw(), "methods": [{"name": "test-trained-denoiser", "label": "Trained",
                                                   "training_data": {"clean": {"items": 5}}}]})
    assert _jobs(more_data)[0] != base
    two_seeds = parse_suite({**_raw(), "seeds": [0, 1]})
    assert len(_jobs(two_seeds)[0]) == 2 and base < _jobs(two_seeds)[0]
    monkeypatch.setattr(training_jobs, "versions", lambda: {"torch": "9.9", "numpy": "1"})
    assert _jobs(_suite())[0] != base
    # the cell key contains the training key: a new training gives new cells
    assert all(c.config["training"] == key for c in _trained_cells(base_cells))


def _raw():
    import tomllib

    return tomllib.loads(suite_text())


def test_profiles_scale_training_and_undeclared_keys_are_refused():
    smoke = _jobs(_suite(epochs=7), "smoke")[1]
    job = next(c.training for c in smoke if c.training is not None)
    assert job.config["training"]["epochs"] == 1  # smoke: one epoch
    assert len(job.config["data"]["clean"]["items"]) == 2  # at most 2 training items per source
    quick = next(c.training for c in _jobs(_suite(epochs=8), "quick")[1] if c.training is not None)
    assert quick.config["training"]["epochs"] == 2  # a quarter
    with pytest.raises(ValueError, match="unknown training key 'lrr'.*lr"):
        expand(parse_suite({**_raw(), "methods": [{"name": "test-trained-denoiser", "training": {"lrr": 1}}]}))
    with pytest.raises(ValueError, match="training key 'epochs' must be like"):
        expand(parse_suite({**_raw(), "methods": [{"name": "test-trained-denoiser", "training": {"epochs": "2"}}]}))
    with pytest.raises(ValueError, match="unknown training source 'noisy'"):
        expand(parse_suite({**_raw(), "methods": [{"name": "test-trained-denoiser",
                                                   "training_data": {"noisy": {"dataset": "synthetic-speech"}}}]}))
    with pytest.raises(ValueError, match=r"\[training\]: no trained method of the suite declares 'epoch'.*epochs"):
        expand(parse_suite({**_raw(), "training": {"epoch": 2}}))
    with pytest.raises(ValueError, match=r"\[profiles.smoke.training\]: no trained method .* 'noise_sdt'"):
        expand(parse_suite({**_raw(), "profiles": {"smoke": {"training": {"noise_sdt": 0.1}}}}))
    with pytest.raises(ValueError, match=r"\[profiles.smoke\]: unknown key 'trainnig'"):
        parse_suite({**_raw(), "profiles": {"smoke": {"trainnig": {"epochs": 1}}}})


# -- resumption -----------------------------------------------------------------------------------------
def _job(tmp_path, epochs=3, **params) -> TrainingJob:
    suite = parse_suite({**_raw(), "training": {"epochs": epochs},
                         "methods": [{"name": "test-trained-denoiser", "params": params}]})
    return next(c.training for c in expand(suite) if c.training is not None)


def _weights(folder: Path) -> dict:
    return torch.load(folder / "trained.pt", weights_only=True)["model"]


def test_a_stopped_training_resumes_from_its_last_epoch_and_ends_with_the_same_weights(tmp_path):
    job = _job(tmp_path, epochs=3)
    whole = run_job(job, tmp_path / "a")
    assert whole["state"] == "done" and whole["resumed_from"] is None
    stopped = run_job(job, tmp_path / "b", stop_after_epoch=0)
    assert stopped["state"] == "interrupted" and not (job.folder(tmp_path / "b") / "trained.pt").exists()
    resumed = run_job(job, tmp_path / "b")
    assert resumed["state"] == "done" and resumed["resumed_from"] == 1
    assert resumed["losses"] == whole["losses"]
    a, b = _weights(job.folder(tmp_path / "a")), _weights(job.folder(tmp_path / "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a different seed trains to other weights (the test above could not pass by accident)
    other = TrainingJob({**job.config, "seed": 1})
    run_job(other, tmp_path / "c")
    assert not torch.equal(_weights(other.folder(tmp_path / "c"))["weight"], a["weight"])


def test_training_jobs_go_to_the_dask_cluster_with_the_local_weights(tmp_path, monkeypatch):
    """Under --backend dask a training job runs on the cluster's workers (through the Dask backend of
    bench.running.dispatch, the one cells go through, with the training stage's batch function), not in a local
    worker process."""
    pytest.importorskip("distributed")
    from bench.running import dispatch as bench_dispatch
    from bench.running import train_stage

    sent = []
    dispatch = bench_dispatch._run_dask

    def spy(work, slots, run_batch, *args):
        sent.append((work, run_batch))
        return dispatch(work, slots, run_batch, *args)

    monkeypatch.setattr(bench_dispatch, "_run_dask", spy)
    job = _job(tmp_path, epochs=1)
    states = train_stage.train([job], tmp_path / "dask", backend="dask", progress=False)
    assert states[job.key]["state"] == "done"
    [(work, run_batch)] = sent
    assert work == [[job]] and run_batch.func is train_stage.train_batch
    run_job(job, tmp_path / "local")
    a, b = _weights(job.folder(tmp_path / "local")), _weights(job.folder(tmp_path / "dask"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def _bench(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "bench.cli", *args], cwd=cwd, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_killed_bench_train_resumes_from_its_last_epoch(tmp_path):
    """kill -9 of the whole process group (the bench process and its training worker) mid-training."""
    (tmp_path / "s.toml").write_text(suite_text(epochs=4, params="{ step_seconds = 0.4 }"))
    first = _bench("train", "--suite", "s.toml", "--results", "r", "--no-progress", cwd=tmp_path)
    epoch_file = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        found = list((tmp_path / "r" / "training").glob("*/epoch.json"))
        if found and json.loads(found[0].read_text())["last_epoch"] >= 0:
            epoch_file = found[0]
            break
        time.sleep(0.1)
    assert epoch_file is not None, first.communicate()[0]
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    folder = epoch_file.parent
    assert not (folder / "trained.pt").exists()
    done_before = json.loads(epoch_file.read_text())["last_epoch"] + 1
    assert 1 <= done_before < 4
    second = subprocess.run([sys.executable, "-m", "bench.cli", "train", "--suite", "s.toml", "--results", "r",
                             "--no-progress"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    state = json.loads((folder / "job.json").read_text())
    assert state["state"] == "done" and state["resumed_from"] == done_before
    job = TrainingJob.from_dict(state)
    whole = subprocess.run([sys.executable, "-m", "bench.cli", "train", "--suite", "s.toml", "--results", "whole",
                            "--no-progress"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr  # the same worker set-up (threads), never interrupted
    a, b = _weights(folder), _weights(job.folder(tmp_path / "whole"))
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- failures, sharing, commands ------------------------------------------------------------------------
def test_a_failed_training_fails_only_its_cells(tmp_path, capsys):
    extra = textwrap.dedent("""
        [[methods]]
        name = "test-trained-denoiser"
        label = "Broken"
        params = { fail_in_epoch = 1 }
    """)
    (tmp_path / "s.toml").write_text(suite_text(extra=extra))
    code = main(["run", "--suite", str(tmp_path / "s.toml"), "--results", str(tmp_path / "r"), "--no-progress",
                 "--no-report"])
    assert code == 1
    records = list(ResultsStore(tmp_path / "r").records())
    by_method = {}
    for r in records:
        by_method.setdefault(r["labels"]["method"], []).append(r)
    assert {r["status"] for r in by_method["Broken"]} == {"failed"}
    assert all("deliberate training failure in epoch 1" in r["error"] for r in by_method["Broken"])
    assert {r["status"] for r in by_method["Trained"]} == {"ok"}
    assert {r["status"] for r in by_method["Noisy"]} == {"ok"}
    # the failed job kept its first epoch: a retry resumes it (and fails again in epoch 1, saying so)
    capsys.readouterr()
    main(["status", "--suite", str(tmp_path / "s.toml"), "--results", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert "Broken" in out and "failed" in out and "epoch 1/2" in out and "deliberate training failure" in out


def test_two_suites_that_share_a_training_job_train_once(tmp_path, capsys):
    (tmp_path / "a.toml").write_text(suite_text(name="a"))
    (tmp_path / "b.toml").write_text(suite_text(name="b", label="Same net, another label", items=3))
    results = tmp_path / "r"
    assert main(["run", "--suite", str(tmp_path / "a.toml"), "--results", str(results), "--no-progress",
                 "--no-report"]) == 0
    (folder,) = (results / "training").iterdir()
    trained_at = (folder / "trained.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", "--suite", str(tmp_path / "b.toml"), "--results", str(results), "--no-progress",
                 "--no-report"]) == 0
    assert "before their cells" not in capsys.readouterr().err  # nothing to train
    assert [p.name for p in (results / "training").iterdir()] == [folder.name]
    assert (folder / "trained.pt").stat().st_mtime_ns == trained_at
    b_records = [r for r in ResultsStore(results).records() if r["labels"]["suite"] == "b"]
    assert any(r["config"].get("training") == folder.name and r["status"] == "ok" for r in b_records)
    # status, dry run and the checkpoint list show the job
    main(["status", "--suite", str(tmp_path / "b.toml"), "--results", str(results), "--json"])
    status = json.loads(capsys.readouterr().out)
    assert [(t["key"], t["state"], t["epochs_done"]) for t in status["training"]] == [(folder.name, "done", 2)]
    main(["checkpoints", "--results", str(results), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["key"] == folder.name and row["state"] == "done" and row["epochs_done"] == 2


def test_cells_restore_with_the_trained_weights(tmp_path):
    """The cell's estimate is the trained network's output: retraining with other weights changes it."""
    (tmp_path / "s.toml").write_text(suite_text(items=1))
    results = tmp_path / "r"
    assert main(["run", "--suite", str(tmp_path / "s.toml"), "--results", str(results), "--no-progress",
                 "--no-report", "--backend", "sequential"]) == 0
    from bench.running.worker import reproduce

    cell = next(c for c in expand(_suite(items=1)) if c.training is not None)
    cell.checkpoint = str(cell.training.folder(results) / "trained.pt")
    observation, estimate = reproduce(cell)
    record = ResultsStore(results).read(cell.key)
    from bench.metrics import evaluate, get_metric

    scores, _ = evaluate([get_metric("si_sdr")], observation.reference, estimate.signal, observation.sr)
    assert scores["si_sdr"] == pytest.approx(record["scores"]["si_sdr"], abs=1e-4)
    state = torch.load(cell.checkpoint, weights_only=True)
    state["model"]["weight"] = torch.zeros_like(state["model"]["weight"])
    state["model"]["weight"][..., 4] = 1.0  # the identity filter
    torch.save(state, cell.checkpoint)
    _, identity = reproduce(cell)
    assert not torch.allclose(torch.from_numpy(identity.signal), torch.from_numpy(estimate.signal))


def test_a_third_party_trained_method_runs_through_entry_points(tmp_path):
    package = tmp_path / "site"
    package.mkdir()
    (package / "mytrained.py").write_text(textwrap.dedent('''
        import torch
        from bench.components.training import TrainedMethod

        class Scale(TrainedMethod):
            """Learns one gain that maps noisy training clips onto clean ones."""
            tasks = ("denoising",)
            training_data = {"clean": {"dataset": "synthetic-speech", "items": 2, "seconds": 0.25}}
            training_defaults = {"epochs": 2}

            def build(self):
                return torch.nn.Linear(1, 1, bias=False)

            def fit(self, data, context):
                self.model = self.build()
                opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
                clips = [torch.from_numpy(c.samples)[:, None] for c in data["clean"].clips()]
                for epoch in context.epochs(self.model, opt):
                    for clean in clips:
                        loss = ((self.model(clean + 0.1 * torch.randn_like(clean)) - clean) ** 2).mean()
                        opt.zero_grad(); loss.backward(); opt.step(); context.step(loss)

            def restore(self, observation, context):
                with torch.no_grad():
                    return self.model(torch.from_numpy(observation.signal)[:, None])[:, 0].numpy()
    '''))
    dist = package / "mytrained-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mytrained\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.methods]\nmy-trained = mytrained:Scale\n")
    suite = suite_text().replace('"test-trained-denoiser"', '"my-trained"')
    (tmp_path / "s.toml").write_text(suite)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--suite", "s.toml", "--results", "r",
                           "--no-progress", "--no-report"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = list(ResultsStore(tmp_path / "r").records())
    assert {r["status"] for r in records} == {"ok"}
    assert any(r["config"].get("training") for r in records if r["labels"]["method"] == "Trained")
