"""The Celery app of kostyor: `celery -A kostyor_dsl.runtime.app worker` works as is.

Configuration comes from the environment (`KOSTYOR_HOME`, `KOSTYOR_BROKER_URL`,
`KOSTYOR_BACKEND_URL`, `KOSTYOR_WORKER_HOST`); `kostyorc` sets those from its
flags before importing this module.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from kostyor_dsl.runtime.current import get_store, settings
from kostyor_dsl.runtime.settings import celery_config
from kostyor_dsl.runtime.step_processes import become_group_leader
from kostyor_dsl.runtime.worker_queues import RunQueues

__all__ = ["app", "get_store", "settings"]

app = Celery("kostyor_dsl", include=["kostyor_dsl.runtime.tasks"])
app.conf.update(celery_config(settings))
app.steps["consumer"].add(RunQueues)


@worker_process_init.connect
def _pool_process_started(**_) -> None:
    # A prefork pool process leads its own process group: a signal to the
    # worker's group (Ctrl-C, `kill -TERM -PGID`) reaches the main process only,
    # which shuts down warmly and lets the running step finish; and what a step
    # leaves behind when its pool process is killed can be found by group.
    become_group_leader()
