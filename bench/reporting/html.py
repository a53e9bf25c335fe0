"""Tables as HTML: one ``<table>`` per suite table (banners, column groups, best in bold, the paper's numbers)
and the self-contained page around them (``html_folder`` writes the whole report folder)."""
from __future__ import annotations

import html

from bench.reporting.tables import Table, caption, column_groups, entries, header_parts, shown_row_labels

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 90em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; text-align: center; }
th.row, td.row { text-align: left; }
thead tr:first-child th { border-top: 2px solid #222; }
thead tr:last-child th { border-bottom: 1px solid #222; }
tbody tr:last-child td { border-bottom: 2px solid #222; }
tr.group td { border-top: 1px solid #999; }
.ref { color: #666; font-size: 0.8em; display: block; }
.banner { background: #fff3cd; border: 1px solid #d39e00; padding: 0.5em 1em; margin: 0.5em 0; font-weight: bold; }
.caption { color: #444; font-size: 0.9em; }
figure { display: inline-block; margin: 0.5em; }
figure img { max-width: 100%; }
.example { border-top: 1px solid #ddd; padding: 0.5em 0; }
.players { display: flex; flex-wrap: wrap; gap: 1em; }
.players div { font-size: 0.85em; }
footer { margin-top: 3em; border-top: 1px solid #ccc; font-size: 0.85em; color: #444; }
"""


def table_html(table: Table) -> str:
    suite = table.suite
    parts = [f"<h2>{escape(suite.title or suite.name)}</h2>"]
    if suite.paper:
        parts.append(f"<p>Paper: {escape(suite.paper)}</p>")
    parts += [f'<div class="banner">{escape(b)}</div>' for b in table.banners]
    if not table.columns:
        parts.append(f"<p><em>No finished cells yet: run <code>bench run --suite {escape(suite.name)}</code>.</em></p>")
        return "\n".join(parts)
    grouped = len(table.column_fields) > 1
    head = []
    if grouped:
        head.append("<tr>" + "".join("<th></th>" for _ in table.row_fields)
                    + "".join(f'<th colspan="{span}">{escape(label)}</th>' for label, span in column_groups(table))
                    + "".join("<th></th>" for _ in table.detail_headers) + "</tr>")
    head.append("<tr>" + "".join(f'<th class="row">{escape(f.capitalize())}</th>' for f in table.row_fields)
                + "".join(f"<th>{escape(' / '.join(header_parts(table, c)[1:] if grouped else header_parts(table, c)))}</th>"
                          for c in table.columns)
                + "".join(f"<th>{escape(h)}</th>" for h in table.detail_headers) + "</tr>")
    body = []
    values = entries(table)
    for i, (row, shown) in enumerate(zip(table.rows, shown_row_labels(table))):
        group = ' class="group"' if i and len(table.row_fields) > 1 and shown[0] else ""
        cells = [f'<td class="row">{escape(s)}</td>' for s in shown]
        for column in table.columns:
            entry = values[(row, column)]
            text = f"<strong>{escape(entry.text)}</strong>" if entry.best else escape(entry.text)
            if entry.reference:
                text += f'<span class="ref">{escape(entry.reference_text)}</span>'
            cells.append(f"<td>{text}</td>")
        cells += [f"<td>{escape(text)}</td>" for text in table.details.get(row, [])]
        body.append(f"<tr{group}>" + "".join(cells) + "</tr>")
    parts.append(f'<table><thead>{"".join(head)}</thead><tbody>{"".join(body)}</tbody></table>')
    parts.append(f'<p class="caption">{escape(caption(table))}</p>')
    if table.claims:
        parts.append(claims_html(table.claims))
    return "\n".join(parts)


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n')


def standalone_tables(tables: list[Table]) -> str:
    """The tables alone as one HTML page (``bench report --format html`` writes the whole folder)."""
    return page("bench report", "\n".join(table_html(t) for t in tables))


def escape(text) -> str:
    return html.escape(str(text))


def claims_html(evaluations: list) -> str:
    """The claims of one table as an HTML table (``bench report --format html``), one row per claim and rule."""
    if not evaluations:
        return ""
    from bench.analysis.paper_claims import EXPLANATION, number_text, verdict_text

    rows = []
    for ev in evaluations:
        paper = f"{ev.paper:+.2f}" if ev.paper is not None else "—"
        for i, f in enumerate(ev.findings or [None]):
            claim = f"{ev.claim.statement} ({ev.claim.source})" if i == 0 else ""
            cells = [claim, ev.claim.metric if i == 0 else ""]
            cells += ([f.rule, str(f.n), number_text(f.advantage), f"[{number_text(f.ci[0])}, {number_text(f.ci[1])}]",
                       paper if i == 0 else "", verdict_text(f)] if f else ["—", "0", "—", "—", paper, "no pairs"])
            rows.append("<tr>" + "".join(f'<td class="row">{escape(c)}</td>' for c in cells) + "</tr>")
        rows.append(f'<tr><td class="row" colspan="8"><strong>{escape(ev.summary)}</strong> '
                    f"{escape('; '.join(ev.notes))}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ["Claim", "Metric", "Rule", "n", "Advantage", "95 % CI", "Paper",
                                             "Verdict"])
    return (f'<h3>Claims of the paper</h3><p class="caption">{escape(EXPLANATION.format(statistic=evaluations[0].statistic))}'
            f'</p><table class="claims"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
