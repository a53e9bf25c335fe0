"""bench check: the committed golden numbers match a fresh run, and a changed number or corruption is caught."""
import pandas as pd

from bench.analysis import golden
from bench.cli import main

# A small golden folder for the detection test (the committed suites take a minute; this one a second).
MINI_SUITE = """
name = "mini"
title = "mini golden"
items = 2
seeds = [0]
seconds = 0.5
sample_rate = 16000
metrics = ["si_sdr", "snr", "envelope_distance"]
layout = { rows = ["corruption", "method"], columns = ["dataset", "metric"] }

[[methods]]
name = "identity"

[[methods]]
name = "spectral-wiener"

[[datasets]]
name = "synthetic-speech"

[[corruptions]]
name = "gaussian-noise"
params = { std = 0.05 }
"""


def test_golden_numbers_match_a_fresh_run(capsys):
    assert main(["check"]) == 0
    assert "golden numbers match" in capsys.readouterr().out


def test_every_golden_suite_contributes_numbers():
    numbers = golden.read_numbers()
    suites = sorted(p.stem for p in golden.GOLDEN_DIR.glob("*.toml"))
    assert suites == ["golden", "golden-dap-separation", "golden-priors", "golden-separation", "golden-trained",
                      "golden-trained-udt"]
    methods = set(numbers.method)
    assert {"identity", "spectral-wiener", "ar-gap-fill", "wpe", "nmf-separation", "dap-separation",
            "unet-conv", "unet-exp-dense", "waveform-demucs", "wave-unet",  # the trained suites' labels:
            "DAE mod-cos, C = 16", "STFT binary mask", "UDT", "Supervised VAE"} <= methods
    assert {"gaussian-noise", "uniform-noise", "reverb", "waveform-gap", "spectral-holes",
            "mixture"} <= set(numbers.corruption)


def test_a_changed_number_or_corruption_fails_the_check(tmp_path, capsys):
    folder = tmp_path / "golden"
    folder.mkdir()
    (folder / "mini.toml").write_text(MINI_SUITE)
    assert main(["check", "--golden", str(folder), "--update"]) == 0
    numbers = pd.read_csv(folder / "numbers.csv", dtype={"item": str})
    total = len(numbers)
    row = numbers.index[(numbers.method == "spectral-wiener") & (numbers.metric == "snr")
                        & (numbers.which == "estimate")][0]
    numbers.loc[row, "value"] += 0.01  # as if the method now scored 0.01 dB differently on one item
    numbers.to_csv(folder / "numbers.csv", index=False)
    capsys.readouterr()
    assert main(["check", "--golden", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"1 of {total} values" in out and "spectral-wiener" in out

    # A corruption that changes (a slightly different noise level) changes every noisy cell's numbers.
    assert main(["check", "--golden", str(folder), "--update"]) == 0
    (folder / "mini.toml").write_text(MINI_SUITE.replace("std = 0.05", "std = 0.0505"))
    assert main(["check", "--golden", str(folder)]) == 1
    assert "golden numbers differ" in capsys.readouterr().out

    # --update accepts the change on purpose; the check then passes.
    assert main(["check", "--golden", str(folder), "--update"]) == 0
    assert main(["check", "--golden", str(folder)]) == 0


def test_each_family_catches_a_change_past_its_tolerance_and_only_that():
    """Per family (method family x metric family): a number moved by twice its tolerance is a mismatch, by half
    of it is not; no family's tolerance is looser than a tenth of a dB (or 0.1 MOS, 0.01 STOI/envelope)."""
    numbers = golden.read_numbers().dropna(subset=["value"]).reset_index(drop=True)
    families = numbers.assign(family=[(golden.method_family(m, w), golden.metric_family(x))
                                      for m, w, x in zip(numbers.method, numbers.which, numbers.metric)])
    assert {f for f in families.family if f[0] != "classical"} >= {("prior fit", "ratio"), ("trained", "ratio")}
    tolerance = golden.tolerance(numbers)
    for family, rows in families.groupby("family"):
        row = rows.index[0]
        assert tolerance[row] - golden.REL_TOL * abs(numbers.loc[row, "value"]) <= 0.1, family
        for factor, differs in ((2.0, True), (0.5, False)):
            current = numbers.copy()
            current.loc[row, "value"] += factor * tolerance[row]
            result = golden.compare(current, numbers, [])
            assert len(result.mismatches) == int(differs), (family, factor)
