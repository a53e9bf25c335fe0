"""Reports of the trained papers: box plots with the paper's medians marked and method labels that do not
overlap; a banner where a suite changes training under the paper profile."""
import numpy as np
import pandas as pd

from bench.planning.suite import load_suite
from bench.reporting.figures import box_plots
from bench.reporting.tables import Table


def figure(name, metric, datasets, corruption):
    suite = load_suite(name)
    rng = np.random.default_rng(0)
    long = pd.DataFrame([{"suite": name, "metric": metric, "status": "ok", "which": "estimate", "dataset": d,
                          "corruption": corruption, "method": m.label, "value": rng.normal(5, 3)}
                         for m in suite.methods for d in datasets for _ in range(10)])
    table = Table(suite=suite, profile="smoke", cells=pd.DataFrame(), rows=[], row_fields=[], columns=[],
                  column_fields=[], statistic="median", which="estimate")
    return box_plots(table, long, metric)


def paper_marks(ax):
    return sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_color() == "red")


def test_figure3_marks_the_paper_s_medians_where_the_paper_gives_them():
    fig = figure("venkataramani2019-figure3", "si_sdr_src1", ["Training mixtures (DR1)", "Test mixtures (DR3)"],
                 "Mixture 0 dB")
    train, test = fig.axes[:2]
    assert paper_marks(test) == [7.5, 9.5] and paper_marks(train) == []
    assert "the paper's median" in [t.get_text() for t in test.get_legend().get_texts()]


def test_long_method_labels_do_not_overlap_and_stay_in_the_figure():
    """Rotated labels do not overlap when the ticks' spacing across the text (spacing x sin angle) is at
    least each label's thickness (its lines' height, unrotated); and no label runs off the figure."""
    fig = figure("mimilakis2020-table2", "si_sdr_src1", ["MUSDB18"], "Binary mask")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = fig.axes[0].get_xticklabels()
    assert len(labels) == 8
    inside = fig.bbox
    for label in labels:
        box = label.get_window_extent(renderer)
        assert box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0
    ax = fig.axes[0]
    spacing = np.diff(ax.transData.transform([(k, 0) for k in range(1, 9)])[:, 0]).min()  # pixels between ticks
    angle = labels[0].get_rotation()
    thickness = []
    for label in labels:
        label.set_rotation(0)
        thickness.append(label.get_window_extent(renderer).height)
    assert spacing * np.sin(np.radians(angle)) >= max(thickness)  # (before: 11.0 px across, 13 px thick)


def test_a_suite_that_changes_training_under_the_paper_profile_says_so():
    from bench.planning.suite import parse_suite
    from bench.reporting.tables import _training_changed

    base = {"name": "t", "metrics": ["si_sdr"], "datasets": [{"name": "synthetic-speech"}],
            "corruptions": [{"name": "mixture"}]}
    as_declared = parse_suite({**base, "methods": [{"name": "udt-separation"}, {"name": "identity"}]})
    assert _training_changed(as_declared) == []
    shrunk = parse_suite({**base, "methods": [{"name": "udt-separation", "label": "UDT"}],
                          "training": {"epochs": 1, "n_fft": 256}})
    [banner] = _training_changed(shrunk)
    assert "UDT: epochs 1 (default 100), n_fft 256 (default 2048)" in banner
