"""`bench score` and `bench corrupt` on files made in tmp_path."""
import json

import numpy as np
import pytest
import soundfile as sf
from bench.datasets.synthetic import speech_like

from bench.cli import main
from bench.commands.corrupt import parse_corruption

SR = 16000


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    clean = speech_like(SR, SR, rng)
    clean = 0.5 * clean / np.max(np.abs(clean))
    other = 0.2 * rng.standard_normal(SR)
    paths = {}
    for name, signal in (("clean", clean), ("noisy", clean + 0.05 * rng.standard_normal(SR)),
                         ("better", clean + 0.01 * rng.standard_normal(SR)), ("other", other),
                         ("est_a", other + 0.1 * clean), ("est_b", clean + 0.1 * other)):
        paths[name] = tmp_path / f"{name}.wav"
        sf.write(paths[name], signal, SR, subtype="FLOAT")
    return paths


def run_json(capsys, *argv):
    assert main(list(map(str, argv))) == 0
    return json.loads(capsys.readouterr().out)


def snr(reference, estimate):
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


def test_score_a_pair_with_chosen_metrics(files, capsys):
    out = run_json(capsys, "score", files["clean"], files["noisy"], "--metrics", "snr,si_sdr,pesq_wb", "--json")
    clean, noisy = sf.read(files["clean"])[0], sf.read(files["noisy"])[0]
    assert set(out["scores"]) == {"snr", "si_sdr", "pesq_wb"}
    assert out["scores"]["snr"] == pytest.approx(snr(clean, noisy), abs=1e-4)
    assert out["sr"] == SR and out["sources"] == 1 and out["errors"] == {}


def test_score_every_applicable_metric_and_the_improvements_over_the_input(files, capsys):
    out = run_json(capsys, "score", files["clean"], files["better"], "--input", files["noisy"], "--json")
    scores = out["scores"]
    assert {"si_sdr", "pesq_wb", "pesq_nb", "stoi", "spectral_snr", "envelope_distance", "lsd"} <= set(scores)
    assert "sdr_v4" not in scores  # BSS Eval scores sets of sources
    assert scores["snr_i"] == pytest.approx(scores["snr"] - out["input_scores"]["snr"])
    assert scores["psnr_i"] == pytest.approx(scores["snr_i"], abs=1e-6)  # both are 10 log10(MSE_in / MSE_out)
    assert scores["si_sdr_i"] > 5


def test_score_separation_with_lists_of_files(files, capsys):
    references = f"{files['clean']},{files['other']}"
    estimates = f"{files['est_a']},{files['est_b']}"  # in swapped order
    out = run_json(capsys, "score", references, estimates, "--metrics", "bss_v3,bss_v4,si_sdr", "--json")
    scores = out["scores"]
    assert out["sources"] == 2
    assert scores["sdr_v3_src1"] > 8 and scores["sdr_v4_src2"] > 8  # the permutation was resolved
    assert scores["si_sdr_src1"] < 0  # si_sdr takes the files in the order given


def test_score_records_an_unscorable_metric_and_goes_on(files, tmp_path, capsys):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR), SR)
    out = run_json(capsys, "score", files["clean"], silent, "--metrics", "pesq_wb,snr", "--json")
    assert out["scores"]["pesq_wb"] is None and "silent estimate" in out["errors"]["pesq_wb"]
    assert out["scores"]["snr"] == pytest.approx(0.0, abs=1e-6)


def test_score_text_output_and_bad_requests(files, capsys):
    assert main(["score", str(files["clean"]), str(files["noisy"]), "--metrics", "snr"]) == 0
    assert "snr" in capsys.readouterr().out
    assert main(["score", str(files["clean"]), str(files["noisy"]), "--metrics", "si_sdr_i"]) == 2
    assert main(["score", str(files["clean"]), "missing.wav"]) == 2


def test_corrupt_writes_the_file_and_reports_what_it_did(files, tmp_path, capsys):
    output = tmp_path / "out" / "noisy.wav"
    out = run_json(capsys, "corrupt", files["clean"], "--corruption", "gaussian-noise[snr=5]", "--seed", 3,
                   "-o", output)
    clean, written = sf.read(files["clean"])[0], sf.read(output)[0]
    assert out["info"]["snr_db"] == pytest.approx(5.0, abs=1e-6)
    assert snr(clean, written) == pytest.approx(5.0, abs=0.01)
    again = tmp_path / "again.wav"
    run_json(capsys, "corrupt", files["clean"], "--corruption", "gaussian-noise[snr=5]", "--seed", 3, "-o", again)
    np.testing.assert_array_equal(sf.read(again)[0], written)


def test_corrupt_reports_masks_and_saves_what_the_method_knows(files, tmp_path, capsys):
    known = tmp_path / "known.npz"
    out = run_json(capsys, "corrupt", files["clean"], "--corruption", "spectral-holes[count=2,min_s=0.1,max_s=0.1]",
                   "-o", tmp_path / "holes.wav", "--known-out", known)
    assert out["info"]["hole_samples"] == [1600, 1600] and out["known"]["stft"]["n_fft"] == 1022
    saved = np.load(known)
    assert int(np.sum(saved["mask"] == 0)) == 3200 and saved["frame_mask"].ndim == 1


def test_corrupt_mixes_sources_from_a_list_of_files(files, tmp_path, capsys):
    reference = tmp_path / "sources.wav"
    out = run_json(capsys, "corrupt", f"{files['clean']},{files['other']}", "--corruption", "mixture[ratio_db=3]",
                   "-o", tmp_path / "mix.wav", "--reference-out", reference)
    assert out["info"]["ratio_db"] == [pytest.approx(3.0, abs=1e-6)] and out["known"] == {"num_sources": 2}
    assert sf.read(reference)[0].shape == (SR, 2)


def test_corrupt_with_a_missing_noise_corpus(files, tmp_path, capsys):
    spec = 'environmental-noise[noise=demand,noise_params={environment="DLIVING"}]'
    assert main(["corrupt", str(files["clean"]), "--corruption", spec, "-o", str(tmp_path / "env.wav"),
                 "--data", str(tmp_path / "no-data")]) == 2
    assert "bench: error" in capsys.readouterr().err
    out = run_json(capsys, "corrupt", files["clean"], "--corruption", spec, "-o", tmp_path / "env.wav",
                   "--data", tmp_path / "no-data", "--synthetic")
    assert out["params"]["standin_for"] == "demand" and 5 <= out["info"]["snr_db"] <= 9


@pytest.mark.parametrize("spec, expected", [
    ("mixture", ("mixture", {})),
    ("reverb[rt60=0.5]", ("reverb", {"rt60": 0.5})),
    ("uniform-noise[si_snr=-2.5, level_dbfs=[-35, -15]]",
     ("uniform-noise", {"si_snr": -2.5, "level_dbfs": [-35, -15]})),
    ('environmental-noise[noise="demand",noise_params={environment="DLIVING"}]',
     ("environmental-noise", {"noise": "demand", "noise_params": {"environment": "DLIVING"}})),
    ("environmental-noise[noise=demand,snr_min=5]", ("environmental-noise", {"noise": "demand", "snr_min": 5})),
])
def test_corruption_specs_are_parsed(spec, expected):
    assert parse_corruption(spec) == expected


def test_a_malformed_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="param=value"):
        parse_corruption("reverb[0.5]")


def test_score_brings_other_rates_and_channels_to_the_reference(files, tmp_path, capsys):
    import soxr

    noisy = sf.read(files["noisy"])[0]
    stereo = tmp_path / "noisy48k_stereo.wav"
    sf.write(stereo, np.stack([soxr.resample(noisy, SR, 48000)] * 2, axis=1), 48000, subtype="FLOAT")
    out = run_json(capsys, "score", files["clean"], stereo, "--metrics", "snr", "--json")
    direct = run_json(capsys, "score", files["clean"], files["noisy"], "--metrics", "snr", "--json")
    assert any("resampled from 48000" in n for n in out["notes"]) and any("averaged" in n for n in out["notes"])
    assert out["scores"]["snr"] == pytest.approx(direct["scores"]["snr"], abs=0.2)


@pytest.mark.parametrize("problem", ["nan", "inf", "short"])
@pytest.mark.parametrize("role", ["reference", "estimate", "corrupt"])
def test_non_finite_or_too_short_audio_is_one_line_naming_the_file(files, tmp_path, capsys, problem, role):
    bad = tmp_path / f"bad-{problem}.wav"
    if problem == "short":
        signal = 0.1 * np.ones(10)
    else:
        signal = sf.read(files["clean"])[0]
        signal[100] = np.nan if problem == "nan" else np.inf
    sf.write(bad, signal, SR, subtype="FLOAT")
    argv = {"reference": ["score", bad, files["noisy"]], "estimate": ["score", files["clean"], bad],
            "corrupt": ["corrupt", bad, "--corruption", "gaussian-noise[std=0.1]", "-o", tmp_path / "out.wav"]}[role]
    capsys.readouterr()
    assert main(list(map(str, argv))) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in captured.err
    assert ("10 samples, too short" if problem == "short" else "NaN or infinite") in lines[0]
    assert not (tmp_path / "out.wav").exists()


def test_corrupt_never_writes_a_non_finite_file(files, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["corrupt", str(files["clean"]), "--corruption", "gaussian-noise[std=1e400]", "-o", str(out)]) == 2
    assert "NaN or infinite" in capsys.readouterr().err and not out.exists()


def test_stoi_of_a_clip_shorter_than_its_frame_is_undefined_not_a_crash():
    from bench.metrics import evaluate, get_metric

    rng = np.random.default_rng(0)
    reference = rng.standard_normal(1000)  # 1000 samples at 44.1 kHz: 227 at STOI's 10 kHz, under one frame
    scores, errors = evaluate([get_metric("stoi")], reference, reference + 0.1 * rng.standard_normal(1000), 44100)
    assert scores["stoi"] is None and "shorter than one 256-sample frame" in errors["stoi"]
