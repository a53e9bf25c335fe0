"""Tables as Markdown (GitHub-flavoured pipe tables), as ``bench run`` and ``bench report`` print them."""
from __future__ import annotations

import io

from bench.paper_claims import markdown as claims_markdown
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
        column_headers = [header(table, c) for c in table.columns]
        out.write("| " + " | ".join(cell_text(h) for h in [*row_header, *column_headers]) + " |\n")
        out.write("|---" * len(table.row_fields) + "|" + "---|" * len(table.columns) + "\n")
        for row, shown in zip(table.rows, shown_row_labels(table)):
            cells = []
            for column in table.columns:
                entry = values[(row, column)]
                text = cell_text(entry.text)
                text = f"**{text}**" if entry.best else text
                cells.append(text + (f" [{cell_text(entry.reference_text)}]" if entry.reference else ""))
            out.write("| " + " | ".join([cell_text(s) for s in shown] + cells) + " |\n")
        out.write(f"\n{caption(table)}\n\n")
        if table.claims:
            out.write(claims_markdown(table.claims) + "\n")
    return out.getvalue()
