"""The Celery app of kostyor: `celery -A kostyor_dsl.runtime.app worker` works as is.

Configuration comes from the environment (`KOSTYOR_HOME`, `KOSTYOR_BROKER_URL`,
`KOSTYOR_BACKEND_URL`, `KOSTYOR_WORKER_HOST`); `kostyorc` sets those from its
flags before importing this module.
"""

from __future__ import annotations

import functools

from celery import Celery

from kostyor_dsl.runtime.run_store import open_store
from kostyor_dsl.runtime.settings import celery_config, prepare_folders, resolve_settings
from kostyor_dsl.runtime.worker_queues import RunQueues

settings = resolve_settings()
prepare_folders(settings)

app = Celery("kostyor_dsl", include=["kostyor_dsl.runtime.tasks"])
app.conf.update(celery_config(settings))
app.steps["consumer"].add(RunQueues)


@functools.cache
def get_store():
    return open_store(settings)
