"""`bench leaderboard` (a ranking per task across suites, blind rule by default) and `bench merge` (results
folders gathered by cell key, reproducibility disagreements listed) on planted records."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from planted_records import plant, write_suite

from bench.analysis import leaderboard
from bench.cli import main
from bench.records.merge import gather, tolerance
from bench.records.store import ResultsStore

NOISE = np.random.default_rng(2).normal(0, 0.2, size=(4, 12))
# improvement over the input per rule: B is best under its best blind rule (plateau), A under the oracle
PLANTED = {"A": {"final": 0.5, "oracle:snr": 6.0, "blind:wmv": 2.0, "blind:plateau": 1.0},
           "B": {"final": 0.5, "oracle:snr": 5.0, "blind:wmv": 1.0, "blind:plateau": 3.0},
           "C": {"final": -1.0, "oracle:snr": 1.0, "blind:wmv": -1.0, "blind:plateau": -2.0},
           "Noisy": {"final": 0.0}}


def scores(label: str, i: int) -> dict:
    base = 5.0 + 0.1 * i
    noise = NOISE[list(PLANTED).index(label), i] if label != "Noisy" else 0.0
    out = {rule: {"snr": base + gain + noise, "envelope_distance": 0.1} for rule, gain in PLANTED[label].items()}
    return {**out, "input": {"snr": base, "envelope_distance": 0.2}}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    plant(write_suite(root), root / "results", scores)
    return root


def test_the_leaderboard_ranks_each_methods_best_blind_rule_with_the_oracle_beside(folder):
    [board] = leaderboard.boards(list(ResultsStore(folder / "results").records()), resamples=200)
    assert board.task == "denoising" and board.metric == "snr"
    order = [(e.method, e.rule) for e in board.entries]
    assert order == [("B", "blind:plateau"), ("A", "blind:wmv"), ("Noisy", "final"), ("C", "blind:wmv")]
    b = board.entries[0]
    assert b.score == pytest.approx(3.0, abs=0.2) and b.oracle == pytest.approx(5.0, abs=0.2)
    assert b.final == pytest.approx(0.5, abs=0.2) and b.interval == (1, 1)
    assert board.entries[2].oracle == pytest.approx(0.0)  # without iterates: the final estimate everywhere
    [by_oracle] = leaderboard.boards(list(ResultsStore(folder / "results").records()), resamples=50, rule="oracle")
    assert [e.method for e in by_oracle.entries][:2] == ["A", "B"]


def test_position_intervals_widen_where_methods_overlap(tmp_path):
    def close(label, i):  # A and B 0.1 dB apart with 1 dB of noise per item
        out = scores(label, i)
        if label in ("A", "B"):
            gain = {"A": 1.0, "B": 1.1}[label] + np.random.default_rng(i + 10 * ord(label)).normal(0, 1)
            out = {**out, "blind:plateau": {"snr": out["input"]["snr"] + gain, "envelope_distance": 0.1},
                   "blind:wmv": {"snr": out["input"]["snr"] - 5, "envelope_distance": 0.1}}
        return out

    plant(write_suite(tmp_path), tmp_path / "results", close)
    [board] = leaderboard.boards(list(ResultsStore(tmp_path / "results").records()), resamples=300)
    top = {e.method: e.interval for e in board.entries[:2]}
    assert top == {"A": (1, 2), "B": (1, 2)}


def test_bench_leaderboard_formats_and_a_candidates_place(folder, capsys, tmp_path):
    results = str(folder / "results")
    assert main(["leaderboard", "--results", results, "--resamples", "50", "--add-method", "unet-conv"]) == 0
    out = capsys.readouterr().out
    assert "| 1 | B (`unet-conv`) | 1-1 |" in out
    assert "B (unet-conv) would rank 1st of 4 on denoising; interval 1st" in out
    assert main(["leaderboard", "--results", results, "--resamples", "20", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["entries"][0]["rule"] == "blind:plateau"
    assert main(["leaderboard", "--results", results, "--add-method", "wave-unet"]) == 2  # never ran
    assert "no finished records of it" in capsys.readouterr().err


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


SORT_BY_SCORE = """
(async () => {
  const cell = (r, i) => r.cells[i].textContent;
  const before = [...document.querySelectorAll('table.board tbody tr')].map(r => cell(r, 1));
  document.querySelectorAll('table.board th')[3].click();
  const descending = [...document.querySelectorAll('table.board tbody tr')].map(r => cell(r, 1));
  document.querySelectorAll('table.board th')[3].click();
  const ascending = [...document.querySelectorAll('table.board tbody tr')].map(r => cell(r, 1));
  return JSON.stringify({before, descending, ascending, links: [...document.links].map(a => a.getAttribute('href'))});
})()
"""


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_leaderboard_html_sorts_in_headless_chromium(folder, tmp_path):
    from cdp_browser import load_page

    page = tmp_path / "leaderboard.html"
    assert main(["leaderboard", "--results", str(folder / "results"), "--resamples", "20", "--format", "html",
                 "-o", str(page)]) == 0
    result = load_page(_chromium(), page.as_uri(), tmp_path / "profile", expression=SORT_BY_SCORE,
                       screenshot=tmp_path / "board.png")
    assert result["errors"] == []
    dom = result["dom"]
    assert [m.split(" ")[0] for m in dom["before"]] == ["B", "A", "Noisy", "C"]
    assert [m.split(" ")[0] for m in dom["descending"]] == ["B", "A", "Noisy", "C"]
    assert [m.split(" ")[0] for m in dom["ascending"]] == ["C", "Noisy", "A", "B"]
    assert set(dom["links"]) == {"planted/index.html"}
    assert (tmp_path / "board.png").stat().st_size > 5000


# -- merge ----------------------------------------------------------------------------------------------
def _split(folder, tmp_path):
    """The planted folder's records split between two folders, with the first 4 records in both."""
    records = sorted(ResultsStore(folder / "results").records(), key=lambda r: r["key"])
    a, b = ResultsStore(tmp_path / "a"), ResultsStore(tmp_path / "b")
    for i, record in enumerate(records):
        (a if i % 2 else b).write(record)
        if i < 4:
            (b if i % 2 else a).write(record)
    return records, a, b


def test_merging_folders_without_disagreement_gives_exactly_the_union(folder, tmp_path, capsys):
    records, a, b = _split(folder, tmp_path)
    assert main(["merge", str(a.root), str(b.root), "-o", str(tmp_path / "c")]) == 0
    merged = {r["key"]: r for r in ResultsStore(tmp_path / "c").records()}
    assert merged == {r["key"]: r for r in records}
    out = capsys.readouterr().out
    assert "4 held by several folders; 0 of them disagree" in out
    assert f"{a.root}: {len(list(a.records()))} records" in out
    assert not (tmp_path / "c" / "disagreements").exists()


def test_a_planted_disagreement_is_listed_and_both_records_are_kept(folder, tmp_path, capsys):
    records, a, b = _split(folder, tmp_path)
    shared = records[0]
    changed = json.loads(json.dumps(shared))
    changed["scores"]["snr"] += 0.05
    changed["provenance"] = {"host": "gpu-box", "torch": "2.13.0+cu126"}
    changed["precision"] = {"requested": "auto", "ran": "bf16", "compiled": False, "refused": []}
    within = json.loads(json.dumps(records[1]))
    within["scores"]["snr"] += tolerance("snr", within["scores"]["snr"]) / 2  # rounding noise: not a disagreement
    assert a.read(shared["key"]) is not None and b.read(within["key"]) is not None  # both folders hold both
    b.write(changed)
    b.write(within)
    assert main(["merge", str(a.root), str(b.root), "-o", str(tmp_path / "c")]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("disagree")]
    assert len(lines) == 1 and shared["key"] in lines[0]
    assert "spread 0.05" in lines[0] and "host gpu-box, torch 2.13.0+cu126, precision bf16" in lines[0]
    assert "host host-a, torch 2.13.0+cpu" in lines[0]
    kept = sorted((tmp_path / "c" / "disagreements" / shared["key"]).glob("*.json"))
    assert [json.loads(p.read_text())["scores"]["snr"] for p in kept] == [shared["scores"]["snr"],
                                                                        changed["scores"]["snr"]]
    assert ResultsStore(tmp_path / "c").read(shared["key"])["scores"]["snr"] == shared["scores"]["snr"]  # a's
    summary = json.loads((tmp_path / "c" / "merge.json").read_text())
    assert summary["cells"] == len(records) and len(summary["disagreements"]) == 1
    # --results A,B reads the union in place and says that some cells disagree
    assert main(["leaderboard", "--results", f"{a.root},{b.root}", "--resamples", "5"]) == 0
    assert "1 cells disagree" in capsys.readouterr().err
    assert len(gather([a.root, b.root]).chosen) == len(records)
    # report reads the union too: every item of the suite, though each folder holds only some
    assert main(["report", "--suite", str(folder / "planted.toml"), "--results", f"{a.root},{b.root}"]) == 0
    assert "over n=12 items" in capsys.readouterr().out
    assert main(["status", "--suite", str(folder / "planted.toml"), "--results", f"{a.root},{b.root}",
                 "--synthetic"]) == 0
    assert f"{len(records)} cells: {len(records)} done" in capsys.readouterr().out


def test_a_candidate_is_found_by_its_exact_parameters():
    def entry(spec, position):
        return leaderboard.Entry("M", spec, "blind:wmv", 1.0, 2.0, 0.5, 1.0, 1, 4, ["s"], position, (position, 2))

    board = leaderboard.Board("denoising", "snr", [entry("m[holdout=0.1]", 1), entry("m", 2)])
    assert leaderboard.candidate_line(board, "m") == "M (m) would rank 2nd of 2 on denoising; interval 2nd"
    assert leaderboard.candidate_line(board, "m[holdout=0.1]").endswith("rank 1st of 2 on denoising; interval 1st-2nd")
    assert leaderboard.candidate_line(board, "other") is None
