"""A command's text: to ``-o FILE`` (its folder made, one "wrote" line on stderr) or to standard output."""
from __future__ import annotations

import sys
from pathlib import Path


def emit(text: str, output: str | None) -> None:
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)
