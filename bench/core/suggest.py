"""The "unknown name ... Did you mean" of every check of a user's names: suite keys, parameters, protocol and
training keys, registered names, selection rules."""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` Did you mean: a, b?`` for the close matches of ``name`` among ``known``; empty where there are none."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def reject_unknown(names: Iterable[str], known: Iterable[str], where: str, what: str = "key",
                   then: str = "") -> None:
    """ValueError ``{where}: unknown {what} 'x'. Did you mean: ...? {then}`` for the first of ``names`` that is
    not one of ``known``; ``then`` says where to look (``(its keys: a, b)``)."""
    known = list(known)
    for name in names:
        if name not in known:
            hint = f"{did_you_mean(name, known)}{' ' + then if then else ''}"
            raise ValueError(f"{where}: unknown {what} {name!r}.{hint}")
