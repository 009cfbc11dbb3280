"""`gc_paused`: the cyclic garbage collector off while big acyclic data is built."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for the duration (restored after).

    The compiler builds hundreds of thousands of small acyclic dicts and
    lists; every few hundred allocations the collector would rescan all the
    live ones, which costs more than building them (and makes PyYAML's
    loader several times slower).  Reference counting frees all of it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
