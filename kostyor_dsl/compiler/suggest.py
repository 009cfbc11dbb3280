from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> tuple[str, ...]:
    """A hint naming the closest candidates, or nothing when none is close."""
    return _hint(word, tuple(candidates))


# One misspelt service on 8,000 hosts asks the same question 8,000 times.
@functools.lru_cache(maxsize=1024)
def _hint(word: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.75)
    if not close:
        return ()
    return ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?",)
