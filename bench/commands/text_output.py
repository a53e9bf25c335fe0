"""A command's text: to ``-o FILE`` (its folder made, one "wrote" line on stderr) or to standard output."""
from __future__ import annotations

import sys

from bench.core.files import write_text


def emit(text: str, output: str | None) -> None:
    if output:
        write_text(output, text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)
