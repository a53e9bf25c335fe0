"""bench check: the committed golden numbers match a fresh run, and a changed number or corruption is caught."""
import shutil

import pandas as pd

from bench import golden
from bench.cli import main


def test_golden_numbers_match_a_fresh_run(capsys):
    assert main(["check"]) == 0
    assert "golden numbers match" in capsys.readouterr().out


def test_a_changed_number_or_corruption_fails_the_check(tmp_path, capsys):
    folder = tmp_path / "golden"
    shutil.copytree(golden.GOLDEN_DIR, folder)
    numbers = pd.read_csv(folder / "numbers.csv", dtype={"item": str})
    row = numbers.index[(numbers.method == "spectral-wiener") & (numbers.metric == "snr")
                        & (numbers.which == "estimate")][0]
    numbers.loc[row, "value"] += 0.01  # as if the method now scored 0.01 dB differently on one item
    numbers.to_csv(folder / "numbers.csv", index=False)
    assert main(["check", "--golden", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "1 of 80 values" in out and "spectral-wiener" in out

    # A corruption that changes (a slightly different noise level) changes every noisy cell's numbers.
    suite = (golden.GOLDEN_DIR / "golden.toml").read_text().replace("std = 0.05", "std = 0.0505")
    (folder / "golden.toml").write_text(suite)
    shutil.copy(golden.GOLDEN_DIR / "numbers.csv", folder / "numbers.csv")
    assert main(["check", "--golden", str(folder)]) == 1
    assert "golden numbers differ" in capsys.readouterr().out

    # --update accepts the change on purpose; the check then passes.
    assert main(["check", "--golden", str(folder), "--update"]) == 0
    assert main(["check", "--golden", str(folder)]) == 0
