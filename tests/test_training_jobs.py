"""The training job's owner (bench.planning.training_jobs) and the typed training protocol (bench.core.protocol).

Planning only: no job is trained here, so these tests take seconds. The trained method is tests/plugins'
``test-trained-denoiser`` (training source ``clean``: synthetic speech, split train, 4 items of 0.25 s).
"""
from __future__ import annotations

import json
import pickle

import pytest

from bench.components.training import TrainingContext, run_job
from bench.core.keys import config_key
from bench.core.protocol import TrainingProtocol, UndeclaredField, resolve_training
from bench.planning.cells import Cell, expand
from bench.planning.suite import parse_suite
from bench.planning.training_jobs import JobFolder, TrainingJob, attach_checkpoints, jobs_in, jobs_root, trained_path


def suite(training_data=None, training=None, **top):
    method = {"name": "test-trained-denoiser", "label": "Trained"}
    if training_data is not None:
        method["training_data"] = training_data
    if training is not None:
        method["training"] = training
    return parse_suite({"name": "t-jobs", "items": 1, "seeds": [0], "seconds": 0.25, "sample_rate": 8000,
                        "metrics": ["si_sdr"], "methods": [method], "datasets": [{"name": "synthetic-speech"}],
                        "corruptions": [{"name": "gaussian-noise", "params": {"snr": 5}}], **top})


def job_of(the_suite, profile="paper") -> TrainingJob:
    (job,) = {c.training.key: c.training for c in expand(the_suite, profile) if c.training is not None}.values()
    return job


# -- the key: one assertion per field of the training configuration ---------------------------------------
BASE = job_of(suite())


def test_the_key_is_the_one_configuration_hash_and_the_cells_hold_it():
    assert BASE.key == config_key(BASE.config)
    cells = [c for c in expand(suite()) if c.training is not None]
    assert cells and all(c.config["training"] == BASE.key and c.key == config_key(c.config) for c in cells)


def test_the_key_changes_with_the_training_dataset():
    assert job_of(suite({"clean": {"dataset": "synthetic-piano"}})).key != BASE.key


def test_the_key_changes_with_the_training_datasets_params():
    assert job_of(suite({"clean": {"params": {"voice": "female"}}})).key != BASE.key


def test_the_key_changes_with_the_training_split():
    assert job_of(suite({"clean": {"split": "valid"}})).key != BASE.key


def test_the_key_changes_with_the_training_rate():
    assert job_of(suite({"clean": {"sample_rate": 16000}})).key != BASE.key


def test_the_key_changes_with_the_training_clip_length():
    assert job_of(suite({"clean": {"seconds": 0.5}})).key != BASE.key


def test_the_key_changes_with_the_training_items():
    assert job_of(suite({"clean": {"items": 3}})).key != BASE.key


def test_the_key_changes_with_which_items_are_drawn():  # the same count, another draw
    assert job_of(suite(item_seed=1)).key != BASE.key


def test_the_key_changes_with_the_training_protocol():
    assert job_of(suite(training={"lr": 0.02})).key != BASE.key


def test_the_key_changes_with_the_seed():
    assert job_of(suite(seeds=[1])).key != BASE.key


def test_the_key_does_not_change_with_what_does_not_train():
    assert job_of(suite(name="another", items=2, seconds=0.5)).key == BASE.key


# -- folder, files, listing, checkpoints ----------------------------------------------------------------
def test_the_job_folder_and_its_files_are_where_the_readme_says(tmp_path):
    files = BASE.files(tmp_path)
    assert files.path == BASE.folder(tmp_path) == tmp_path / "training" / BASE.key == jobs_root(tmp_path) / BASE.key
    assert [files.job.name, files.checkpoint.name, files.epoch.name, files.trained.name] == \
        ["job.json", "checkpoint.pt", "epoch.json", "trained.pt"]
    assert trained_path(tmp_path, BASE.key) == files.trained
    assert files.state() == {"state": "pending"} and files.last_epoch() is None and not files.is_done()


def test_listing_a_results_folder_reads_each_job_and_names_an_unreadable_one(tmp_path):
    assert list(jobs_in(tmp_path)) == []
    files = BASE.files(tmp_path)
    files.path.mkdir(parents=True)
    files.job.write_text(json.dumps({**BASE.to_dict(), "state": "done"}))
    broken = JobFolder(jobs_root(tmp_path) / ("0" * 32))
    broken.path.mkdir()
    broken.job.write_text("{not json")
    listed = list(jobs_in(tmp_path))
    assert [(f.path.name, None if job is None else job.key) for f, job in listed] == \
        [(broken.path.name, None), (BASE.key, BASE.key)]
    assert listed[1][1].config == BASE.config
    assert not files.is_done()  # done, but trained.pt is missing
    files.trained.write_bytes(b"")
    assert files.is_done()


def test_attaching_checkpoints_points_each_trained_cell_at_its_jobs_weights(tmp_path):
    trained = next(c for c in expand(suite()) if c.training is not None)
    untrained = Cell({"method": {"name": "identity"}})
    kept = Cell({"training": "k"}, checkpoint="/elsewhere/trained.pt")
    attach_checkpoints([trained, untrained, kept], tmp_path)
    assert trained.checkpoint == str(tmp_path / "training" / BASE.key / "trained.pt")
    assert untrained.checkpoint is None and kept.checkpoint == "/elsewhere/trained.pt"


# -- the typed training protocol ------------------------------------------------------------------------
DEFAULTS = {"epochs": 8, "lr": 0.1, "batch_size": 4, "mode": "a"}


def test_layers_in_order_defaults_suite_method_profile_scaling_then_profile_values():
    def resolved(suite_wide=(), own=(), overrides=(), scale=None):
        return dict(resolve_training(DEFAULTS, suite_wide=dict(suite_wide), own=dict(own), where="w",
                                     epochs_scale=scale, overrides=dict(overrides)))

    assert resolved() == DEFAULTS
    assert resolved(suite_wide={"lr": 0.2, "other_methods_key": 1})["lr"] == 0.2  # others' keys: not its concern
    assert resolved(suite_wide={"lr": 0.2}, own={"lr": 0.3})["lr"] == 0.3
    assert resolved(suite_wide={"epochs": 6}, scale=lambda e: e // 2)["epochs"] == 3  # the scaling sees the layers
    assert resolved(own={"lr": 0.3}, overrides={"lr": 0.4, "epochs": 5}, scale=lambda e: e // 2) == \
        {**DEFAULTS, "lr": 0.4, "epochs": 5}  # the profile's values are the last word, not scaled
    with pytest.raises(ValueError, match="w: unknown training key 'lrr'. Did you mean: lr"):
        resolved(own={"lrr": 1})


def test_suite_wide_and_profile_epochs_reach_only_a_method_that_declares_epochs():
    one_shot = {"dictionary_iterations": 200}  # like the NMF dictionary: no epochs of its own
    protocol = resolve_training(one_shot, suite_wide={"epochs": 20, "dictionary_iterations": 50}, own={},
                                where="w", overrides={"epochs": 7})
    assert dict(protocol) == {"epochs": 1, "dictionary_iterations": 50}
    assert resolve_training(DEFAULTS, suite_wide={"epochs": 20}, own={}, where="w")["epochs"] == 20
    from bench.methods.nmf_dictionary import NmfDictionarySeparation

    from bench.planning.suite import load_suite
    figure3 = load_suite("venkataramani2019-figure3")
    nmf = next(m for m in figure3.methods if m.name == "nmf-dictionary-separation")
    figure3.training = {**figure3.training, "epochs": 20}
    assert figure3.training_for(nmf, NmfDictionarySeparation.training_defaults, "paper")["epochs"] == 1


def test_values_are_typed_once_like_their_defaults():
    protocol = resolve_training(DEFAULTS, suite_wide={"lr": 1}, own={}, where="w")
    assert protocol["lr"] == 1.0 and isinstance(protocol["lr"], float)
    for bad in ({"batch_size": 2.5}, {"batch_size": True}, {"mode": 3}, {"epochs": "2"}):
        with pytest.raises(ValueError, match=f"w: training key '{next(iter(bad))}' must be like"):
            resolve_training(DEFAULTS, suite_wide={}, own=bad, where="w")
    job = job_of(suite(training={"lr": 1}))  # the plugin's default lr is 0.01
    assert job.config["training"]["lr"] == 1.0 and isinstance(job.protocol["lr"], float)


def test_every_training_protocol_has_epochs():
    assert dict(resolve_training({"lr": 0.1}, suite_wide={}, own={}, where="w")) == {"epochs": 1, "lr": 0.1}
    assert TrainingContext("unused", protocol={"lr": 0.1}).protocol["epochs"] == 1


def test_an_undeclared_training_key_is_refused_by_name():
    protocol = BASE.protocol
    assert isinstance(protocol, TrainingProtocol) and set(protocol) == {"epochs", "lr", "noise_std", "batch_size"}
    with pytest.raises(UndeclaredField, match=r"'momentum' is not declared by the method \(its training keys: "
                                              r"epochs, lr, noise_std, batch_size\).*training_defaults"):
        protocol["momentum"]
    with pytest.raises(UndeclaredField, match="'momentum'"):
        protocol.get("momentum", 0.9)  # a default in the code would steer a fit the key does not hash
    with pytest.raises(AttributeError):
        protocol.lr = 1.0
    assert protocol.lr == protocol["lr"] == 0.01
    assert pickle.loads(pickle.dumps(protocol)) == protocol and hash(protocol) == hash(TrainingProtocol(dict(protocol)))


def test_fit_reads_the_jobs_typed_protocol(tmp_path, monkeypatch):
    from bench.core.registry import METHODS

    seen = {}

    def spy(self, data, context):
        seen["protocol"] = context.protocol
        raise RuntimeError("enough")

    monkeypatch.setattr(METHODS.get("test-trained-denoiser").obj, "fit", spy)
    job = job_of(suite(training={"lr": 1}))
    state = run_job(job, tmp_path)
    assert state["state"] == "failed" and "enough" in state["error"]
    protocol = seen["protocol"]
    assert isinstance(protocol, TrainingProtocol) and protocol == job.protocol
    assert isinstance(protocol["lr"], float) and isinstance(protocol["batch_size"], int)
    with pytest.raises(UndeclaredField):
        protocol["undeclared"]


def test_training_honours_omp_num_threads_and_bench_train_threads_first(monkeypatch):
    from bench.running.train_stage import _usable_cores, training_threads
    monkeypatch.delenv("BENCH_TRAIN_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert training_threads() == _usable_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert training_threads() == 3
    monkeypatch.setenv("BENCH_TRAIN_THREADS", "2")
    assert training_threads() == 2


def test_a_dry_run_shows_each_job_s_resolved_settings_and_the_method_s_cost_estimate():
    from bench.methods.style_transfer_separation import UDTSeparation

    def job(name, training):
        return TrainingJob({"format": 1, "method": {"name": name, "version": "2", "params": {}}, "data": {},
                            "training": training, "seed": 0, "versions": {}})

    udt = job("udt-separation", {**UDTSeparation.training_defaults, "epochs": 2})
    assert "epochs=2" in udt.settings() and "lr=0.0001" in udt.settings() and "hop=16" in udt.settings()
    # 2 epochs x 512 examples x 1024 channels^2 x 2001 frames (2 s at hop 16) at the measured rate
    expected = 2 * 512 * 1024 ** 2 * 2001 * UDTSeparation.cpu_seconds_per_channel2_frame
    assert udt.estimated_cpu_seconds() == pytest.approx(expected)
    half = job("udt-separation", {**UDTSeparation.training_defaults, "epochs": 1})
    assert half.estimated_cpu_seconds() == pytest.approx(expected / 2)
    assert job("nmf-dictionary-separation", {"epochs": 1, "dictionary_iterations": 200}).estimated_cpu_seconds() is None


# -- from the survivors of mutation testing (benchmarks/mutation.md, 2026-12-07 second session) -------------
def _source(the_suite, profile="paper", **options):
    (job,) = {c.training.key: c.training for c in expand(the_suite, profile, **options)
              if c.training is not None}.values()
    return job.config["data"]["clean"]


def test_the_training_items_come_from_the_declared_split_capped_by_the_profile_and_the_suite():
    from bench.components.dataset import build_dataset

    speech = build_dataset("synthetic-speech", {})
    valid = _source(suite({"clean": {"split": "valid", "items": None}}))
    assert valid["items"] == sorted(speech.item_ids("valid"))  # every item of the split, none of train's
    assert not set(valid["items"]) & set(speech.item_ids("train"))
    assert len(_source(suite({"clean": {"items": None}}), "smoke")["items"]) == 2  # the profile's cap
    capped = suite({"clean": {"items": None}}, profiles={"cpu": {"train_items": 3}})
    assert len(_source(capped, "cpu")["items"]) == 3  # the suite's own cap


def test_a_stand_in_trains_on_its_own_count_and_length_and_the_profile_caps_them(tmp_path):
    from bench.planning.training_jobs import STANDIN_ITEMS, STANDIN_SECONDS

    whole = {"clean": {"dataset": "vctk", "items": None, "seconds": None}}
    source = _source(suite(whole), synthetic=True, data_root=tmp_path)  # VCTK missing: its stand-in
    assert source["standin_for"] == "vctk" and source["name"] == "synthetic-speech"
    assert (len(source["items"]), source["seconds"]) == (STANDIN_ITEMS, STANDIN_SECONDS)
    own = {"clean": {**whole["clean"], "standin_items": 7, "standin_seconds": 1.5}}
    source = _source(suite(own), synthetic=True, data_root=tmp_path)
    assert (len(source["items"]), source["seconds"]) == (7, 1.5)
    source = _source(suite(whole), "smoke", synthetic=True, data_root=tmp_path)
    assert (len(source["items"]), source["seconds"]) == (2, 4.0)  # smoke: 2 items of at most 4 s
    assert _source(suite({"clean": {"seconds": None}}), "smoke")["seconds"] == 4.0  # a whole real recording too
    assert _source(suite({"clean": {"seconds": None}}))["seconds"] is None  # whole recordings, as declared
    other = _source(suite({"clean": {"dataset": "synthetic-piano"}}))  # another corpus: the declared
    assert other["seconds"] is None and len(other["items"]) != 4  # source's items = 4, seconds = 0.25 do not apply


def test_a_suite_wide_training_key_no_trained_method_declares_is_refused_with_the_close_match():
    typo = suite()
    typo.training = {"lrr": 0.1}  # the suite's [training] table
    with pytest.raises(ValueError, match=r"\[training\]: no trained method of the suite declares 'lrr'\. "
                                         r".*lr.*\(their training keys: batch_size, epochs, lr, noise_std\)"):
        expand(typo)
    in_profile = suite(profiles={"cpu": {"training": {"epoch": 2}}})
    with pytest.raises(ValueError, match=r"\[profiles\.cpu\.training\]: no trained method of the suite declares "
                                         r"'epoch'"):
        expand(in_profile)
    fine = suite(profiles={"cpu": {"training": {"epochs": 2}}})
    fine.training = {"lr": 0.1}
    expand(fine, "cpu")  # declared keys: no error


def test_a_job_round_trips_through_its_dict_with_its_labels():
    assert BASE.labels == {"suite": "t-jobs", "method": "Trained", "profile": "paper"}
    again = TrainingJob.from_dict(json.loads(json.dumps(BASE.to_dict())))
    assert (again.key, again.config, again.labels) == (BASE.key, BASE.config, BASE.labels)


def test_the_last_epoch_is_read_from_the_file_the_trainer_writes(tmp_path):
    files = BASE.files(tmp_path)
    files.path.mkdir(parents=True)
    files.epoch.write_text(json.dumps({"last_epoch": 3, "epochs": 10, "losses": [1.0] * 4}))
    assert files.last_epoch() == 3


def test_the_key_of_numpy_scalars_and_tuples_is_that_of_the_plain_values_and_ascii():
    import numpy as np

    from bench.core.keys import canonical_json

    assert config_key({"a": np.float64(0.5), "b": np.int64(3), "c": (1, 2), "d": {4}}) == \
        config_key({"a": 0.5, "b": 3, "c": [1, 2], "d": [4]})
    with pytest.raises(TypeError, match="cannot put object in a hashed configuration"):
        config_key({"a": object()})
    assert canonical_json({"é": 1, "b": [1, 2]}) == '{"b":[1,2],"\\u00e9":1}'  # the keys of stored results
