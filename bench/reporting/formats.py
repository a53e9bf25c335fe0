"""Every text format ``bench report --format`` writes, by name (``html`` is a folder: ``html.write_report``)."""
from __future__ import annotations

from bench.reporting.csv import render_csv
from bench.reporting.html import standalone_tables
from bench.reporting.json import render_json
from bench.reporting.latex import render_latex
from bench.reporting.markdown import render_markdown

RENDERERS = {"md": render_markdown, "csv": render_csv, "latex": render_latex, "html": standalone_tables,
             "json": render_json}
