"""How a failure is written down: the text a record or a training job keeps of the exception that ended it."""
from __future__ import annotations

import traceback

MAX_CHARS = 4000  # enough for the innermost frames; a record stays small


def describe_failure(exc: BaseException) -> str:
    """``Kind: message`` on the first line (``out of memory: `` before it where it is one), then the last
    frames of the traceback."""
    kind = type(exc).__name__
    out_of_memory = isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or kind == "OutOfMemoryError"
    tail = "".join(traceback.format_exception(exc)[-6:])
    return f"{'out of memory: ' if out_of_memory else ''}{kind}: {exc}\n{tail}"[:MAX_CHARS]
