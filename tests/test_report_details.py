"""Method facts as table columns (``layout = { details = { N_P = "parameters" } }``) and the caption's account of
trainings that stop early, drawn from records and training folders planted here (nothing is trained)."""
from __future__ import annotations

import json
import re

import pytest

from bench.planning.cells import expand
from bench.planning.suite import load_suite, parse_suite
from bench.records.record import of_cell
from bench.records.store import ResultsStore
from bench.reporting.csv import render_csv
from bench.reporting.html import table_html
from bench.reporting.json import render_json
from bench.reporting.latex import render_latex
from bench.reporting.markdown import render_markdown
from bench.reporting.tables import build_tables, detail_text


def planted(name: str, results, stopped: dict[str, dict] | None = None, trained: bool = True):
    """The smoke cells of suite ``name``, each with an ok record (SI-SDR 10 dB), and each training job's folder
    marked done, with ``stopped[method label]`` as its ``stopped_early`` where given; the tables."""
    suite = load_suite(name)
    cells = expand(suite, "smoke", synthetic=True)
    store = ResultsStore(results)
    for cell in cells:
        metric = "si_sdr_src1" if cell.config["corruption"]["name"] == "mixture" else "si_sdr"
        store.write(of_cell(cell, status="ok", device="cpu", scores={metric: 10.0}, input_scores={metric: 0.0},
                            provenance={}))
        job = cell.training
        if job is not None and trained:
            folder = job.files(results)
            folder.path.mkdir(parents=True, exist_ok=True)
            folder.trained.write_bytes(b"")
            state = {**job.to_dict(), "state": "done",
                     "stopped_early": (stopped or {}).get(cell.labels["method"])}
            folder.job.write_text(json.dumps(state))
    return build_tables(suite, cells, store, "smoke")


def markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """The first pipe table of ``text``: row label -> header -> cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = lambda line: [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]  # noqa: E731
    header = split(lines[0])
    return {cells[0]: dict(zip(header, cells)) for cells in map(split, lines[2:])}


def test_table_2_shows_each_rows_parameter_count_in_millions(tmp_path):
    [table] = planted("mimilakis2020-table2", tmp_path / "results")
    rows = markdown_rows(render_markdown([table]))
    # N_P = 4098 C + 5 C^2 (the paper's conv/mod-cos: 2.439M, 6.478M, 19.356M), written out here
    for channels in (400, 800, 1600):
        count = 4098 * channels + 5 * channels**2
        for target in ("A_v", "A_m"):
            assert rows[f"conv/mod-cos, C = {channels}, TV on {target}"]["N_P"] == f"{count / 1e6:.3f}M"
    assert rows["conv/mod-cos, C = 400, TV on A_v"]["N_P"] == "2.439M"
    assert rows["conv/mod-cos, C = 1600, TV on A_m"]["N_P"] == "19.357M"
    assert rows["STFT/iSTFT (Hamming 2048, hop 384)"]["N_P"] == "—"  # no parameter count: the paper's N/A
    assert list(rows["Mixture (not in the paper)"])[-1] == "N_P"  # the last column, as the paper's


def test_table_1_shows_n_p_and_says_where_training_stopped_early(tmp_path):
    stopped = {"conv/conv, C = 800": {"epoch": 3, "epochs": 10, "reason": "planted"}}
    [table] = planted("mimilakis2020-table1", tmp_path / "results", stopped)
    text = render_markdown([table])
    rows = markdown_rows(text)
    # conv/cos, C = 952: the encoder (2048 C + 5 C^2) and the decoder's C carriers, C phases and one envelope
    assert rows["conv/cos (linear f_c), C = 952"]["N_P"] == f"{(2048 * 952 + 5 * 952**2 + 2 * 952 + 2048) / 1e6:.3f}M"
    assert rows["conv/mod-cos (f_c^2), C = 800"]["N_P"] == "6.478M"
    assert ("early stopping (a training ends after the first epoch whose mean loss did not fall): stopped early: "
            "conv/conv, C = 800, seed 0, after epoch 4 of 10; 6 of 7 ran all their epochs.") in text
    for other, header in ((render_latex([table]), "N\\_P"), (render_csv([table]), "N_P"),
                          (render_json([table]), "N_P"), (table_html(table), "<th>N_P</th>")):
        assert header in other and "6.478M" in other
    assert "seed 0, after epoch 4 of 10" in json.loads(render_json([table]))["tables"][0]["caption"]


def test_jobs_not_trained_in_the_results_folder_are_counted(tmp_path):
    [table] = planted("mimilakis2020-table1", tmp_path / "results", trained=False)
    assert "did not fall): 7 of 7 not trained here." in render_markdown([table])


def test_without_details_no_column_and_no_early_stopping_note(tmp_path):
    [table] = planted("mimilakis2020-table2", tmp_path / "results")
    table.detail_headers, table.details = [], {}
    text = render_markdown([table])
    assert "N_P" not in text and "early stopping" not in text  # Table 2 does not stop early
    assert "N_P" not in render_markdown(planted("smoke", tmp_path / "smoke")[:1])


def test_detail_text():
    assert detail_text(6_478_400) == "6.478M" and detail_text(19_356_800) == "19.357M"
    assert detail_text(999_999) == "999,999" and detail_text(None) == "—"
    assert detail_text(0.5) == "0.5" and detail_text(True) == "True" and detail_text("L1") == "L1"


BASE = {"name": "t", "items": 1, "metrics": ["snr"], "methods": [{"name": "identity"}],
        "datasets": [{"name": "synthetic-speech"}], "corruptions": [{"name": "gaussian-noise"}]}


@pytest.mark.parametrize("layout, message", [
    ({"details": ["parameters"]}, "details must be a table of column header"),
    ({"details": {"N_P": 1}}, "details must be a table of column header"),
    ({"rows": ["dataset"], "columns": ["method", "metric"], "details": {"N_P": "parameters"}},
     "the rows must include \"method\""),
])
def test_a_bad_details_layout_is_refused_with_one_line(layout, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_suite({**BASE, "layout": layout})
