"""Tables as Markdown (GitHub-flavoured pipe tables), as ``bench run`` and ``bench report`` print them."""
from __future__ import annotations

import io

from bench.analysis.paper_claims import EXPLANATION, Evaluation, number_text, verdict_text
from bench.reporting.tables import Table, caption, entries, header, shown_row_labels


def cell_text(text: str) -> str:
    """Text safe inside a pipe-table cell: a ``|`` would end the cell and a newline the row."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_markdown(tables: list[Table]) -> str:
    out = io.StringIO()
    for table in tables:
        suite = table.suite
        out.write(f"## {suite.title or suite.name}\n\n")
        if suite.paper:
            out.write(f"Paper: {suite.paper}\n\n")
        for banner in table.banners:
            out.write(f"> **{banner}**\n")
        if table.banners:
            out.write("\n")
        if not table.columns:
            out.write(f"_No finished cells yet: run `bench run --suite {suite.name}`._\n\n")
            continue
        values = entries(table)
        row_header = [f.capitalize() for f in table.row_fields]
        column_headers = [header(table, c) for c in table.columns] + table.detail_headers
        out.write("| " + " | ".join(cell_text(h) for h in [*row_header, *column_headers]) + " |\n")
        out.write("|---" * len(row_header) + "|" + "---|" * len(column_headers) + "\n")
        for row, shown in zip(table.rows, shown_row_labels(table)):
            cells = []
            for column in table.columns:
                entry = values[(row, column)]
                text = cell_text(entry.text)
                text = f"**{text}**" if entry.best else text
                cells.append(text + (f" [{cell_text(entry.reference_text)}]" if entry.reference else ""))
            cells += [cell_text(text) for text in table.details.get(row, [])]
            out.write("| " + " | ".join([cell_text(s) for s in shown] + cells) + " |\n")
        out.write(f"\n{caption(table)}\n\n")
        if table.claims:
            out.write(claims_markdown(table.claims) + "\n")
    return out.getvalue()


def claims_markdown(evaluations: list[Evaluation], explain: bool = True) -> str:
    """The claims of one table as a Markdown section (empty when it has none)."""
    if not evaluations:
        return ""
    lines = ["**Claims of the paper**" + (f" ({EXPLANATION.format(statistic=evaluations[0].statistic)})"
                                          if explain else ""), ""]
    if not any(ev.findings for ev in evaluations):
        return "\n".join(lines + [f"- {cell_text(ev.claim.statement)} ({cell_text(ev.claim.source)}): no pairs"
                                  for ev in evaluations]) + "\n"
    lines += ["| Claim | Source | Metric | Rule | n | Advantage | 95 % CI | Paper | Verdict |",
              "|---|---|---|---|---|---|---|---|---|"]
    for ev in evaluations:
        c = ev.claim
        head = [cell_text(c.statement) + (f" (margin {c.margin:g})" if c.margin else ""), cell_text(c.source),
                c.metric]
        paper = f"{ev.paper:+.2f}" if ev.paper is not None else "—"
        if not ev.findings:
            lines.append("| " + " | ".join(head + ["—", "0", "—", "—", paper, "no pairs"]) + " |")
            continue
        for i, f in enumerate(ev.findings):
            shown = head if i == 0 else ["", "", ""]
            lines.append("| " + " | ".join(shown + [f.rule, str(f.n), number_text(f.advantage),
                                                    f"[{number_text(f.ci[0])}, {number_text(f.ci[1])}]", paper if i == 0 else "",
                                                    verdict_text(f)]) + " |")
        tail = [f"**{ev.summary}**", *ev.notes]
        lines.append("| " + " | ".join(["", "", "", "", "", "", "", "", cell_text("; ".join(tail))]) + " |")
    return "\n".join(lines) + "\n"
