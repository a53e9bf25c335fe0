"""Tables as LaTeX (booktabs) that compile in a paper as they are.

Column groups (the first column field, usually the dataset) become a ``\\multicolumn`` header over a
``\\cmidrule``; row groups are separated by ``\\midrule`` with repeated labels left blank. Needs only
``\\usepackage{booktabs}``; text is escaped and the few non-ASCII symbols labels use become math.
"""
from __future__ import annotations

import io
import unicodedata

from bench.reporting.tables import Table, caption, column_groups, entries, header_parts, shown_row_labels

PREAMBLE = "% needs \\usepackage{booktabs}\n"

_SYMBOLS = {"±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "—": "---", "–": "--", "Δ": r"$\Delta$",
            "×": r"$\times$", "≤": r"$\leq$", "≥": r"$\geq$", "µ": r"$\mu$", "°": r"$^\circ$"}
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """Plain text to LaTeX: special characters escaped, Greek letters and a few symbols as math."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ch in _SYMBOLS:
            out.append(_SYMBOLS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(_greek(ch))
    return "".join(out)


def _greek(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER "):
        return f"$\\{name.rsplit(' ', 1)[-1].lower()}$"
    if name.startswith("GREEK CAPITAL LETTER "):
        return f"$\\{name.rsplit(' ', 1)[-1].capitalize()}$"
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return decomposed or "?"


def render_latex(tables: list[Table]) -> str:
    out = io.StringIO()
    out.write(PREAMBLE)
    for table in tables:
        out.write(_table(table))
    return out.getvalue()


def _table(table: Table) -> str:
    suite = table.suite
    out = io.StringIO()
    out.write("\\begin{table}[t]\n\\centering\n\\small\n")
    out.write(f"\\caption{{{escape(suite.title or suite.name)}. {escape(caption(table))}}}\n")
    out.write(f"\\label{{tab:{_label(suite.name)}}}\n")
    for banner in table.banners:
        out.write(f"\\par\\textbf{{{escape(banner)}}}\\par\\smallskip\n")
    if not table.columns:
        out.write("No finished cells yet.\n\\end{table}\n\n")
        return out.getvalue()
    n_rows = len(table.row_fields)
    n_details = len(table.detail_headers)
    out.write("\\begin{tabular}{" + "l" * n_rows + "c" * (len(table.columns) + n_details) + "}\n\\toprule\n")
    grouped = len(table.column_fields) > 1
    if grouped:
        first = [""] * n_rows
        rules, start = [], n_rows + 1
        for label, span in column_groups(table):
            first.append(f"\\multicolumn{{{span}}}{{c}}{{{escape(label)}}}")
            rules.append(f"\\cmidrule(lr){{{start}-{start + span - 1}}}")
            start += span
        out.write(" & ".join(first + [""] * n_details) + " \\\\\n" + " ".join(rules) + "\n")
    headers = [escape(f.capitalize()) for f in table.row_fields]
    for column in table.columns:
        parts = header_parts(table, column)
        headers.append(escape(" / ".join(parts[1:] if grouped else parts)))
    headers += [escape(h) for h in table.detail_headers]
    out.write(" & ".join(headers) + " \\\\\n\\midrule\n")
    values = entries(table)
    for i, (row, shown) in enumerate(zip(table.rows, shown_row_labels(table))):
        if i and n_rows > 1 and shown[0]:
            out.write("\\midrule\n")
        cells = [escape(s) for s in shown]
        for column in table.columns:
            entry = values[(row, column)]
            text = escape(entry.text)
            if entry.best:
                text = f"\\textbf{{{text}}}"
            if entry.reference:
                text += f" {{\\scriptsize ({escape(entry.reference_text)})}}"
            cells.append(text)
        cells += [escape(text) for text in table.details.get(row, [])]
        out.write(" & ".join(cells) + " \\\\\n")
    out.write("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n")
    return out.getvalue()


def _label(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-:" else "-" for ch in name)
