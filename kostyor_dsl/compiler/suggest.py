from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> tuple[str, ...]:
    """A hint naming the closest candidates, or nothing when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.75)
    if not close:
        return ()
    return ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?",)
