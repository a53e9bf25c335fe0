"""Draw UDT's learning curve from `benchmarks/udt_ablation.py`'s output: female SI-SDR (median over the test
mixtures, the mask readout) against training examples, one line per run (a model size, a data set), with
the supervised VAE and the mixture where the run has them.

Run: OMP_NUM_THREADS=1 python benchmarks/udt_ablation.py ... > run-256.jsonl   (one file per model size)
     python benchmarks/udt_learning_curve.py run-256.jsonl:"256 channels" run-128.jsonl:"128 channels" -o curve.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_run(path: Path) -> dict[str, list[tuple[int, float]]]:
    """method -> [(examples, female SI-SDR of the mask readout)]; the mixture as one point at 0."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        point = json.loads(line)
        if point["method"] == "mixture":
            curves["mixture"] = [(0, point["si_sdr"])]
        else:
            curves.setdefault(point["method"], []).append((point["examples"], point["mask si_sdr"]))
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="FILE.jsonl[:label]")
    parser.add_argument("-o", "--output", default="udt-learning-curve.png")
    args = parser.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for number, run in enumerate(args.runs):
        path, _, label = run.partition(":")
        curves = read_run(Path(path))
        for method, points in curves.items():
            if method == "mixture":
                ax.axhline(points[0][1], color="grey", linestyle=":", linewidth=1)
                continue
            name = {"UDTSeparation": "UDT", "SupervisedVAESeparation": "supervised VAE"}.get(method, method)
            ax.plot(*zip(*points), marker="o", linestyle="-" if name == "UDT" else "--", color=f"C{number}",
                    label=f"{name}, {label or Path(path).stem}")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel("female SI-SDR (dB), median")
    ax.set_title("UDT (solid) and the supervised VAE (dashed); dotted: the mixture", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(args.output)


if __name__ == "__main__":
    main()
