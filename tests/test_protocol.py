"""The protocol: resolved once per method at expansion (suite, method defaults, profile), hashed only where
used; every name and parameter of a suite checked at expansion, with errors that name the file."""
import pickle
import re

import pytest
from bench.methods.waveform_priors import WaveformPrior

from bench.cli import main
from bench.components.fitting import FittedPrior
from bench.core.protocol import Protocol, UndeclaredField, resolve
from bench.planning.cells import expand
from bench.planning.suite import load_suite, parse_suite
from bench.running.worker import run_cell

PRIOR_FIELDS = {"iterations", "lr", "lr_step", "lr_gamma", "trace_every", "trace_all_metrics"}


def suite_dict(protocol=None, methods=None, **extra):
    return {"name": "p", "items": 2, "seeds": [0], "seconds": 0.25, "metrics": ["si_sdr"],
            "methods": methods or [{"name": "identity"}, {"name": "unet-conv"}, {"name": "waveform-demucs"}],
            "datasets": [{"name": "synthetic-speech"}],
            "corruptions": [{"name": "gaussian-noise", "params": {"std": 0.1}}],
            "protocol": protocol or {}, **extra}


def protocols(suite, profile="paper"):
    """{method name: the protocol its cells run under}, checking every cell of a method agrees."""
    out = {}
    for cell in expand(suite if not isinstance(suite, dict) else parse_suite(suite), profile):
        out.setdefault(cell.method["name"], cell.config["protocol"])
        assert out[cell.method["name"]] == cell.config["protocol"]
    return out


def keys(suite_data, profile="paper"):
    out = {}
    for cell in expand(parse_suite(suite_data), profile):
        out.setdefault(cell.method["name"], set()).add(cell.key)
    return out


# -- resolution -----------------------------------------------------------------------------------------
def test_a_method_without_suite_values_runs_its_own_defaults_and_the_record_says_so():
    resolved = protocols(suite_dict())
    assert resolved["identity"] == {}
    assert resolved["unet-conv"] == {"iterations": 2000, "lr": 1e-3, "lr_step": None, "lr_gamma": 0.1,
                                     "trace_every": 0, "trace_all_metrics": False}
    assert resolved["waveform-demucs"]["iterations"] == 3000 and resolved["waveform-demucs"]["lr"] == 1e-4


def test_profiles_scale_the_methods_own_defaults():
    quick = protocols(suite_dict(), "quick")
    assert quick["unet-conv"]["iterations"] == 500 and quick["waveform-demucs"]["iterations"] == 750
    smoke = protocols(suite_dict(), "smoke")
    assert smoke["unet-conv"]["iterations"] == 20 and smoke["waveform-demucs"]["iterations"] == 20
    assert smoke["identity"] == {}


def test_resolution_order_suite_then_method_entry_then_scaling_then_profile_override():
    data = suite_dict(protocol={"iterations": 1000, "lr": 0.01, "trace_every": 100, "lr_step": 400},
                      methods=[{"name": "unet-conv"}, {"name": "waveform-demucs", "protocol": {"lr": 0.5}}])
    paper = protocols(data)
    assert paper["unet-conv"]["lr"] == 0.01 and paper["waveform-demucs"]["lr"] == 0.5  # the entry wins
    assert paper["waveform-demucs"]["iterations"] == 1000  # the suite's value beats the method's default
    quick = protocols(data, "quick")
    # iterations, trace interval and step decay scale together; the learning rate does not
    assert (quick["unet-conv"]["iterations"], quick["unet-conv"]["trace_every"], quick["unet-conv"]["lr_step"],
            quick["unet-conv"]["lr"]) == (250, 25, 100, 0.01)
    data["profiles"] = {"quick": {"protocol": {"iterations": 7, "lr": 0.2}}}
    quick = protocols(data, "quick")
    assert quick["unet-conv"]["iterations"] == 7 and quick["unet-conv"]["lr"] == 0.2  # as written, not scaled
    assert quick["waveform-demucs"]["lr"] == 0.2  # a profile's value is the last word


def test_suite_values_only_reach_methods_that_use_the_field():
    resolved = protocols(suite_dict(protocol={"iterations": 5, "trace_all_metrics": True},
                                    methods=[{"name": "identity"}, {"name": "test-slow"}]))
    assert resolved["identity"] == {}
    assert resolved["test-slow"] == {"iterations": 5}


def test_the_key_hashes_only_the_fields_a_method_uses():
    base = keys(suite_dict(protocol={"lr": 1e-3}))
    other_lr = keys(suite_dict(protocol={"lr": 1e-2}))
    assert base["identity"] == other_lr["identity"]  # identity uses no protocol: nothing reruns
    assert base["unet-conv"].isdisjoint(other_lr["unet-conv"])
    assert base["waveform-demucs"].isdisjoint(other_lr["waveform-demucs"])
    # naming a method's own default explicitly is the same experiment: same key
    assert keys(suite_dict(protocol={"iterations": 2000}))["unet-conv"] == keys(suite_dict())["unet-conv"]


def test_a_method_runs_exactly_the_resolved_protocol():
    data = suite_dict(protocol={"iterations": 3, "trace_every": 1}, methods=[{"name": "test-iterative"}])
    cell = expand(parse_suite(data))[0]
    assert [t["iteration"] for t in run_cell(cell)["trace"]] == [1, 2, 3]
    cell = expand(parse_suite(suite_dict(methods=[{"name": "test-iterative"}])))[0]
    assert cell.config["protocol"] == {"iterations": 10, "trace_every": 0, "trace_all_metrics": False}
    assert run_cell(cell)["trace"] == []


def test_a_prior_fits_the_scaled_default_under_the_smoke_profile():
    small = {"name": "waveform-demucs", "params": {"variant": "conv2", "channels": 4}}
    cell = expand(parse_suite(suite_dict(methods=[small])), "smoke")[0]
    record = run_cell(cell)
    assert record["status"] == "ok", record["error"]
    assert record["estimate_info"]["iterations"] == cell.config["protocol"]["iterations"] == 20
    assert [t["iteration"] for t in run_cell(expand(parse_suite(suite_dict(
        protocol={"trace_every": 1}, methods=[{"name": "test-iterative"}])), "smoke")[0])["trace"]] == [1]


def test_the_protocol_object_is_typed_frozen_and_refuses_undeclared_fields():
    protocol = resolve(FittedPrior.protocol_defaults, {"lr": 1, "iterations": 4})
    assert set(protocol) == PRIOR_FIELDS
    assert protocol["lr"] == 1.0 and isinstance(protocol["lr"], float) and protocol.iterations == 4
    assert pickle.loads(pickle.dumps(protocol)) == protocol and hash(protocol) == hash(Protocol(protocol))
    with pytest.raises(AttributeError):
        protocol.lr = 0.1
    empty = resolve({}, {"iterations": 4})
    assert dict(empty) == {} and "iterations" not in empty
    with pytest.raises(UndeclaredField, match="protocol_defaults"):
        empty.get("iterations", 100)  # a value the key does not hash must not steer a method
    assert empty.get("not-a-field", 1) == 1
    assert resolve(WaveformPrior.protocol_defaults)["iterations"] == 3000


@pytest.mark.parametrize("protocol, message", [
    ({"iterations": 0}, "iterations must be at least 1, not 0"),
    ({"lr": "fast"}, "lr must be a number, not 'fast'"),
    ({"trace_all_metrics": 1}, "trace_all_metrics must be true or false"),
    ({"iterations": 2.5}, "iterations must be an integer"),
    ({"lr": -1e-3}, "lr must be positive"),
])
def test_a_protocol_value_of_the_wrong_type_or_range_is_an_error(protocol, message):
    with pytest.raises(ValueError, match=message):
        parse_suite(suite_dict(protocol=protocol))


# -- suite files: every error names the file, the table, the key and the close matches --------------------
SUITE_FILE = """name = "bad"
items = 2
seconds = 0.25
metrics = ["si_sdr"]
[protocol]
{protocol}
[[methods]]
name = "wave-unet"
params = {{ {method} }}
[[datasets]]
name = "synthetic-speech"
params = {{ {dataset} }}
[[corruptions]]
name = "gaussian-noise"
params = {{ {corruption} }}
"""
GOOD = {"protocol": "iterations = 10", "method": "levels = 3", "dataset": 'voice = "male"', "corruption": "std = 0.05"}


def write(tmp_path, **changes):
    path = tmp_path / "bad.toml"
    path.write_text(SUITE_FILE.format(**{**GOOD, **changes}))
    return path


@pytest.mark.parametrize("changes, message", [
    ({"protocol": "iteratons = 10"},
     r"\[protocol\]: unknown protocol key 'iteratons'. Did you mean: iterations\?"),
    ({"protocol": 'lr = "fast"'}, r"\[protocol\]: lr must be a number, not 'fast'"),
    ({"method": "levles = 3"},
     r"\[\[methods\]\] 'wave-unet': params: unknown parameter 'levles'. Did you mean: levels\?"),
    ({"method": 'levels = "3"'}, r"\[\[methods\]\] 'wave-unet': params: parameter 'levels' must be an integer"),
    ({"corruption": "sdt = 0.05"},
     r"\[\[corruptions\]\] 'gaussian-noise': params: unknown parameter 'sdt'. Did you mean: std\?"),
    ({"corruption": 'std = "loud"'}, r"\[\[corruptions\]\] 'gaussian-noise': params: parameter 'std' must be"),
    ({"dataset": 'voise = "male"'},
     r"\[\[datasets\]\] 'synthetic-speech': params: unknown parameter 'voise'. Did you mean: voice\?"),
])
def test_bad_suite_values_are_rejected_at_expansion_naming_the_file(tmp_path, changes, message):
    path = write(tmp_path, **changes)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: {message}"):
        expand(load_suite(str(path)))


def test_a_good_file_expands_and_a_bad_one_fails_the_dry_run_in_one_line(tmp_path, capsys):
    assert len(expand(load_suite(str(write(tmp_path))))) == 2
    path = write(tmp_path, method="levles = 3")
    assert main(["run", "--suite", str(path), "--dry-run", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and "levles" in err and not (tmp_path / "r").exists()


def test_unknown_names_and_misplaced_keys_name_the_file(tmp_path):
    path = write(tmp_path)
    path.write_text(path.read_text().replace('name = "wave-unet"', 'name = "wave-unte"'))
    unknown = f"{re.escape(str(path))}: \\[\\[methods\\]\\]: unknown method 'wave-unte'. Did you mean: wave-unet"
    with pytest.raises(KeyError, match=unknown):
        expand(load_suite(str(path)))
    path.write_text(write(tmp_path).read_text().replace("params = { levels = 3 }", "levels = 3"))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: \\[\\[methods\\]\\] #1 'wave-unet': unknown key 'levels'"):
        load_suite(str(path))


def test_a_toml_syntax_error_names_the_file(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x\nitems = 2\n')
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not a valid TOML file: .*line 1"):
        load_suite(str(path))
    assert main(["run", "--suite", str(path), "--dry-run"]) == 2
    assert str(path) in capsys.readouterr().err


def test_a_missing_suite_file_says_file_not_found(tmp_path, capsys):
    missing = tmp_path / "no" / "such.toml"
    assert main(["status", "--suite", str(missing), "--results", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == f"bench: error: {missing}: suite file not found"


# -- what a run says before it starts ---------------------------------------------------------------------
def test_dry_run_prints_each_methods_resolved_protocol_and_the_work(tmp_path, capsys):
    path = tmp_path / "mixed.toml"
    path.write_text("""name = "mixed"
items = 3
metrics = ["si_sdr"]
[protocol]
lr = 0.01
[[methods]]
name = "identity"
label = "Input"
[[methods]]
name = "waveform-demucs"
label = "Demucs prior"
[[datasets]]
name = "synthetic-speech"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
""")
    assert main(["run", "--suite", str(path), "--profile", "smoke", "--dry-run",
                 "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "  Input (identity): uses no protocol field" in out
    assert ("  Demucs prior (waveform-demucs): iterations=20, lr=0.01, lr_step=none, lr_gamma=0.1, "
            "trace_every=0, trace_all_metrics=false") in out
    assert "work left: 4 cells, 40 fitting iterations in all" in out  # 2 items x (identity 0 + prior 20)


def test_compare_prints_the_resolved_protocol_and_the_work_before_it_runs(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text("""name = "tiny"
items = 2
seconds = 0.05
metrics = ["si_sdr"]
[protocol]
iterations = 3
lr = 0.5
[[methods]]
name = "identity"
[[datasets]]
name = "test-tone"
[[corruptions]]
name = "gaussian-noise"
params = { std = 0.1 }
""")
    main(["compare", "--suite", str(path), "--candidate", "test-iterative", "--baseline", "identity",
          "--results", str(tmp_path / "r"), "--backend", "sequential", "--no-progress"])
    err = capsys.readouterr().err
    assert "4 to run (6 fitting iterations in all)" in err
    assert "  test-iterative: iterations=3, trace_every=0, trace_all_metrics=false" in err
    assert "  identity: uses no protocol field" in err
