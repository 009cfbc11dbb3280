"""This process's runtime settings and run store, from the environment.

Both the Celery app (`app`) and the worker bootstep (`worker_queues`) need
them; they live here so neither has to import the other.
"""

from __future__ import annotations

import functools

from kostyor_dsl.runtime.settings import prepare_folders, resolve_settings
from kostyor_dsl.runtime.store_factory import open_store

settings = resolve_settings()
prepare_folders(settings)


@functools.cache
def get_store():
    return open_store(settings)
