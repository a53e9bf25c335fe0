"""Figures from results, written as PNG and SVG with matplotlib.

- convergence: a metric against iteration per method, mean and ±1 std band over items (from the records'
  ``trace``; as the spectral-prior paper's Figure 2);
- level curves: a metric against the input level per method (the input's own score on that metric,
  one point per corruption; as the waveform-prior paper's Figure 3);
- box plots: the per-item distribution of a metric per method (as the style-transfer paper's Figure 3);
- spectrograms of clean / corrupted / restored signals of one example;
- stopping-rule gaps: per blind stopping rule, its loss against the oracle (a table with a "rule" row).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import mlab  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bench.metrics import output_spec  # noqa: E402
from bench.planning.cells import Cell  # noqa: E402
from bench.records.store import ResultsStore  # noqa: E402
from bench.reporting.paths import safe_name  # noqa: E402
from bench.reporting.tables import Table, rule_gaps  # noqa: E402


def trace_frame(cells: list[Cell], store: ResultsStore) -> pd.DataFrame:
    """One row per cell x traced iteration x metric output, labelled as the suite labels the cell."""
    labels = {c.key: c.labels for c in cells}
    rows = []
    for record in store.records(list(labels)):
        if record.get("status") != "ok":
            continue
        lab = labels[record["key"]]
        for point in record.get("trace") or []:
            for metric, value in point["scores"].items():
                if value is not None:
                    rows.append({"suite": lab["suite"], "method": lab["method"], "dataset": lab["dataset"],
                                 "corruption": lab["corruption"], "item": record["config"]["item"],
                                 "seed": record["config"]["seed"], "iteration": point["iteration"],
                                 "metric": metric, "value": value})
    return pd.DataFrame(rows, columns=["suite", "method", "dataset", "corruption", "item", "seed", "iteration",
                                       "metric", "value"])


def _outputs(table: Table) -> list[str]:
    return list(dict.fromkeys(c[table.column_fields.index("metric")] for c in table.columns)) \
        if "metric" in table.column_fields else []


def _ylabel(metric: str) -> str:
    spec = output_spec(metric)
    if spec is None:
        return metric
    return f"{metric} ({spec.unit}) {spec.arrow}" if spec.unit else f"{metric} {spec.arrow}"


def _methods(table: Table, frame: pd.DataFrame) -> list[str]:
    return [m.label for m in table.suite.methods if m.label in set(frame["method"])]


def _colours(table: Table) -> dict[str, str]:
    """One colour per method of the suite, the same in every panel, so that one legend serves them all."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m.label: cycle[i % len(cycle)] for i, m in enumerate(table.suite.methods)}


def _shared_legend(fig, axes) -> None:
    """One legend below the panels naming every method drawn in any of them, once."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), 4), fontsize="small")


PANELS_PER_ROW = 4


def _grid(count: int, width: float, height: float, sharey: bool = False):
    """A figure of ``count`` panels, at most PANELS_PER_ROW to a row (a suite of many noise levels would
    otherwise make one row too wide to read); returns (figure, the panels in order). Unused cells are hidden.
    ``sharey``: one value axis for every panel (values compared across panels)."""
    columns = min(count, PANELS_PER_ROW)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False,
                             layout="constrained", sharey=sharey)
    panels = list(axes.ravel())
    for ax in panels[count:]:
        ax.set_visible(False)
    return fig, panels[:count]


def _panels(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(frame["dataset"], frame["corruption"])))


def convergence(table: Table, traces: pd.DataFrame, metric: str):
    """Metric against iteration, one line (mean) and band (±1 std over items) per method; None if no trace."""
    sub = traces[(traces["suite"] == table.suite.name) & (traces["metric"] == metric)]
    if sub.empty:
        return None
    panels = _panels(sub)
    colours = _colours(table)
    fig, axes = _grid(len(panels), 4.2, 3.3)
    for ax, (dataset, corruption) in zip(axes, panels):
        here = sub[(sub["dataset"] == dataset) & (sub["corruption"] == corruption)]
        for method in _methods(table, here):
            stats = here[here["method"] == method].groupby("iteration")["value"].agg(["mean", "std"]).fillna(0)
            ax.plot(stats.index, stats["mean"], label=method, color=colours[method])
            ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                            color=colours[method], alpha=0.2)
        ax.set(title=f"{dataset}\n{corruption}", xlabel="iteration", ylabel=_ylabel(metric))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are counts
        ax.grid(alpha=0.3)
    _shared_legend(fig, axes)
    return fig


def level_curves(table: Table, long: pd.DataFrame, metric: str):
    """Metric against the input level (the corrupted input's own score), one line per method and dataset.
    Needs at least two corruption levels; None otherwise."""
    sub = long[(long["suite"] == table.suite.name) & (long["metric"] == metric) & (long["status"] == "ok")]
    # Only levels of one kind of corruption make a curve (not noise next to gaps).
    levels = sub.groupby("corruption_name")["corruption"].nunique()
    sub = sub[sub["corruption_name"].isin(levels[levels >= 2].index)]
    inputs = sub[sub["which"] == "input"].groupby(["dataset", "corruption"])["value"].mean()
    if sub.empty or inputs.empty:
        return None
    estimates = sub[sub["which"] == table.which].groupby(["dataset", "corruption", "method"])["value"] \
        .agg(["mean", "std"]).fillna(0).reset_index()
    datasets = list(dict.fromkeys(estimates["dataset"]))
    colours = _colours(table)
    fig, axes = _grid(len(datasets), 4.2, 3.3)
    for ax, dataset in zip(axes, datasets):
        here = estimates[estimates["dataset"] == dataset]
        for method in _methods(table, here):
            points = here[here["method"] == method].copy()
            points["level"] = [inputs.get((dataset, c), np.nan) for c in points["corruption"]]
            points = points.dropna(subset=["level"]).sort_values("level")
            ax.errorbar(points["level"], points["mean"], yerr=points["std"], marker="o", capsize=3, label=method,
                        color=colours[method])
        ax.set(title=dataset, xlabel=f"input {metric}", ylabel=_ylabel(metric))
        ax.grid(alpha=0.3)
    _shared_legend(fig, axes)
    return fig


def box_plots(table: Table, long: pd.DataFrame, metric: str):
    """Per-item distribution of a metric: one panel per dataset x corruption, one box per method (the
    median line, the box from the 25th to the 75th percentile, whiskers to the furthest point within 1.5
    times that range), on one value axis across panels as the style-transfer paper's Figure 3."""
    sub = long[(long["suite"] == table.suite.name) & (long["metric"] == metric) & (long["status"] == "ok")
               & (long["which"] == table.which)].dropna(subset=["value"])
    if sub.empty:
        return None
    panels = _panels(sub)
    most = max(len(_methods(table, sub[(sub["dataset"] == d) & (sub["corruption"] == c)])) for d, c in panels)
    fig, axes = _grid(len(panels), max(3.6, 0.9 * most), 3.4 + 0.1 * most, sharey=True)  # room for labels
    for ax, (dataset, corruption) in zip(axes, panels):
        here = sub[(sub["dataset"] == dataset) & (sub["corruption"] == corruption)]
        methods = _methods(table, here)
        ax.yaxis.set_tick_params(labelleft=True)
        ax.boxplot([here[here["method"] == m]["value"].to_numpy() for m in methods])
        marked = [(k, _paper_median(table, m, dataset, corruption, metric)) for k, m in enumerate(methods, 1)]
        for n, (k, paper) in enumerate((k, p) for k, p in marked if p is not None):
            ax.plot([k - 0.3, k + 0.3], [paper, paper], color="red", linewidth=2, zorder=3,
                    label=None if n else "the paper's median")
        ax.set_xticks(range(1, len(methods) + 1), [textwrap.fill(m, 18) for m in methods], rotation=45,
                      ha="right", rotation_mode="anchor", fontsize="small")
        ax.set(title=f"{dataset}\n{corruption}", ylabel=_ylabel(metric))
        ax.grid(alpha=0.3, axis="y")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc="best")
    return fig


def _paper_median(table: Table, method: str, dataset: str, corruption: str, metric: str) -> float | None:
    """The paper's number for this box (a suite's ``references`` entry), or None."""
    for ref in table.suite.references:
        if (ref.get("method"), ref.get("metric")) == (method, metric) and ref.get("dataset") in (None, dataset) \
                and ref.get("corruption") in (None, corruption):
            return ref.get("mean")
    return None


SPECTROGRAM_DB = (-120.0, -20.0)  # the colour scale of every spectrogram panel: power density in dB/Hz


def stopping_gaps(table: Table, metric: str):
    """Bars of each blind rule's loss against the oracle (table.rule), one group of bars per method, one
    panel per column of the table with this metric; None for a table without a "rule" row field."""
    gaps = rule_gaps(table)
    metric_at = table.column_fields.index("metric") if "metric" in table.column_fields else None
    columns = [c for c in table.columns if metric_at is not None and c[metric_at] == metric]
    if not gaps or not columns:
        return None
    rule_at = table.row_fields.index("rule")
    groups = list(dict.fromkeys(r[:rule_at] + r[rule_at + 1:] for r in table.rows))
    rules = list(dict.fromkeys(r[rule_at] for r in table.rows if r[rule_at].startswith("blind:")))
    fig, axes = _grid(len(columns), 4.2, 3.3)
    width = 0.8 / max(len(rules), 1)
    for ax, column in zip(axes, columns):
        for k, rule in enumerate(rules):
            heights = [gaps.get((g[:rule_at] + (rule,) + g[rule_at:], column), (np.nan, np.nan))[0] for g in groups]
            ax.bar(np.arange(len(groups)) + k * width, heights, width, label=rule)
        ax.set_xticks(np.arange(len(groups)) + width * (len(rules) - 1) / 2,
                      [" / ".join(map(str, g)) for g in groups], rotation=30, ha="right", fontsize="small")
        ax.axhline(0, color="black", linewidth=0.8)
        unit = output_spec(metric).unit if output_spec(metric) else ""
        ax.set(title=" / ".join(str(v) for i, v in enumerate(column) if i != metric_at),
               ylabel=f"loss against {table.rule} ({unit})" if unit else f"loss against {table.rule}")
        ax.grid(alpha=0.3, axis="y")
    _shared_legend(fig, axes)
    return fig


def spectrograms(signals: dict[str, np.ndarray], sr: int, title: str = ""):
    """Log-magnitude spectrograms side by side (e.g. clean, corrupted, one per method), on one colour scale
    shown by one colour bar; power below the scale's floor (exact digital silence too) shows as the floor."""
    fig, axes = plt.subplots(1, len(signals), figsize=(3.2 * len(signals) + 0.8, 2.8), squeeze=False,
                             sharey=True, layout="constrained")
    low, high = SPECTROGRAM_DB
    image = None
    for ax, (name, signal) in zip(axes[0], signals.items()):
        x = np.asarray(signal, dtype=np.float64)
        x = x.reshape(-1, x.shape[-1]).sum(axis=0)  # several sources: show their mixture
        nfft = int(min(512, max(16, 2 ** int(np.log2(max(len(x) // 4, 16))))))
        power, freqs, times = mlab.specgram(x, NFFT=nfft, Fs=sr, noverlap=nfft * 3 // 4)
        db = 10 * np.log10(np.maximum(power, 10 ** (low / 10)))
        image = ax.pcolormesh(times, freqs, db, cmap="magma", vmin=low, vmax=high, shading="auto")
        ax.set(title=name, xlabel="time (s)")
    axes[0][0].set_ylabel("frequency (Hz)")
    fig.colorbar(image, ax=list(axes[0]), label="power density (dB/Hz)", pad=0.01)
    if title:
        fig.suptitle(title, fontsize="small")
    return fig


def save(fig, folder: str | Path, stem: str) -> list[Path]:
    """Write a figure as PNG and SVG; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def table_figures(table: Table, long: pd.DataFrame, traces: pd.DataFrame, folder: str | Path) -> dict[str, list[Path]]:
    """Every figure a table has data for: {caption: [png, svg]}."""
    out = {}
    for metric in _outputs(table):
        for kind, make, data in (("convergence", convergence, traces), ("level", level_curves, long),
                                 ("box", box_plots, long), ("stopping", lambda t, _, m: stopping_gaps(t, m), None)):
            fig = make(table, data, metric)
            if fig is not None:
                out[f"{kind}: {metric}"] = save(fig, folder, f"{safe_name(table.suite.name)}-{kind}-{safe_name(metric)}")
    return out


def write_figures(tables: list[Table], cells: list[Cell], store: ResultsStore, folder: str | Path) -> list[Path]:
    long = store.table([c.key for c in cells], {c.key: c.labels for c in cells})
    traces = trace_frame(cells, store)
    return [p for table in tables for paths in table_figures(table, long, traces, folder).values() for p in paths]
