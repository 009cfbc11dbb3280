from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable

_PREFIX = "did you mean "


def did_you_mean(word: str, candidates: Iterable[str]) -> tuple[str, ...]:
    """A hint naming the closest candidates, or nothing when none is close."""
    return _hint(word, tuple(candidates))


# One misspelt service on 8,000 hosts asks the same question 8,000 times.
@functools.lru_cache(maxsize=1024)
def _hint(word: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.75)
    if not close:
        return ()
    return (_PREFIX + " or ".join(f"'{c}'" for c in close) + "?",)


def suggested_names(hint: str) -> tuple[str, ...]:
    """The names a `did_you_mean` hint offers, in its order (editors make quick fixes of them)."""
    if not hint.startswith(_PREFIX) or not hint.endswith("?"):
        return ()
    parts = hint[len(_PREFIX) : -1].split(" or ")
    if not all(len(p) > 2 and p[0] == p[-1] == "'" for p in parts):
        return ()
    return tuple(p[1:-1] for p in parts)
