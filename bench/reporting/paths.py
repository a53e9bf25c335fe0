"""File and folder names made from names and labels a user wrote (suites, methods, metrics).

Every output path a report builds from such a name goes through ``safe_name``: a suite named ``../../x``
or a label with ``/`` must not write outside the folder the user asked for.
"""
from __future__ import annotations

import re


def safe_name(text: str) -> str:
    """Lowercase letters, digits and single hyphens only; never empty, never a path."""
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower() or "x"
