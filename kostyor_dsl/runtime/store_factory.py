"""Which run store goes with the settings: files in the state folder, or Redis."""

from __future__ import annotations

from kostyor_dsl.runtime.redis_store import RedisRunStore
from kostyor_dsl.runtime.run_store import FileRunStore


def open_store(settings, *, watching: bool = False) -> FileRunStore | RedisRunStore:
    """The run store that goes with these settings' result backend; `watching`:
    for a process that reads the same runs again and again (`kostyorc serve`)."""
    if settings.redis_backend:
        return RedisRunStore(
            settings.backend_url, prefix=settings.namespace, lock_ttl=settings.lock_ttl
        )
    return FileRunStore(settings.runs_folder, cache_steps=watching)
