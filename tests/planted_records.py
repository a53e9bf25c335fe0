"""Results folders with planted scores, for tests of what is read from records (claims, leaderboard, merge):
the cells of a tiny suite on synthetic speech, each given a record whose scores the test chooses, so the
truth is known and nothing is fitted."""
from __future__ import annotations

from pathlib import Path

from bench.planning.cells import expand
from bench.planning.suite import read_suite_file
from bench.records.record import of_cell
from bench.records.store import ResultsStore

SUITE = """
name = "planted"
title = "Planted scores"
items = {items}
seeds = [0]
seconds = 0.25
sample_rate = 8000
metrics = ["snr", "envelope_distance"]
select = "oracle:snr"
layout = {{ columns = ["dataset", "metric"] }}

[[methods]]
name = "unet-exp-dense"
label = "A"

[[methods]]
name = "unet-conv"
label = "B"

[[methods]]
name = "unet-exp"
label = "C"

[[methods]]
name = "identity"
label = "Noisy"

[[datasets]]
name = "synthetic-speech"
label = "Speech"

[[corruptions]]
name = "gaussian-noise"
params = {{ std = 0.1 }}
label = "Noise"
{claims}
"""


def write_suite(folder: Path, claims: str = "", items: int = 12) -> Path:
    path = Path(folder) / "planted.toml"
    path.write_text(SUITE.format(items=items, claims=claims))
    return path


def plant(suite_path: Path, results: Path, scores, host: str = "host-a") -> ResultsStore:
    """One record per cell: ``scores(label, item_index) -> {rule: {metric: value}}`` with rules "input",
    "final" and any of ``selected``'s (e.g. "oracle:snr", "blind:wmv"); the identity method gets no trace."""
    store = ResultsStore(results)
    cells = expand(read_suite_file(suite_path), "paper", synthetic=True)
    items = sorted({c.config["item"] for c in cells}, key=str)
    for cell in cells:
        label = cell.labels["method"]
        planted = scores(label, items.index(cell.config["item"]))
        iterates = label != "Noisy"
        store.write(of_cell(cell, status="ok", device="cpu",
                            scores=planted["final"], input_scores=planted["input"],
                            oracle_scores=planted.get("oracle:snr", planted["final"]),
                            selected={rule: {"iteration": 5 if iterates else None, "scores": values}
                                      for rule, values in planted.items() if rule not in ("final", "input")},
                            trace=[{"iteration": 5, "scores": {}}] if iterates else [],
                            provenance={"host": host, "torch": "2.13.0+cpu"}))
    return store
