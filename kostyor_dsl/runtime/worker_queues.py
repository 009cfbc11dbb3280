"""The worker side: consume the queues of live runs, and reconcile.

A worker consumes the queue of every running run (and, started with
`--host NAME`, that host's queue of every `--route per-host` run).  Queues
are computed from the run store, not from control broadcasts, so a restarted
worker consumes exactly what it should, and a broadcast it missed (or a stale
one replayed to it) is corrected on the next look.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import bootsteps

from kostyor_dsl.runtime.canvas import host_queue, run_queue
from kostyor_dsl.runtime.current import get_store, settings
from kostyor_dsl.runtime.errors import RuntimeProblem
from kostyor_dsl.runtime.reconcile import reconcile_all
from kostyor_dsl.runtime.run_queues import (
    RUN_QUEUE_PREFIX,
    delete_queues,
    ended_for_good,
    run_of_queue,
)

log = logging.getLogger(__name__)

SCAN_SECONDS = 0.5
RESEND_SECONDS = 3.0


def wanted_queues(store, host: str | None) -> set[str]:
    queues = set()
    for run in store.live_runs():
        # A paused run's next message stays on the broker until it resumes;
        # the step task's own check of the run state is what makes pause hold.
        if run.state != "running":
            continue
        queues.add(run_queue(run.run_id))
        if host and run.route == "per-host":
            queues.add(host_queue(run.run_id, host))
    return queues


def _add_queue_before_loop(c, queue: str) -> None:
    """`Consumer.add_task_queue` without its `consume()`.

    The event loop sets the consumer's message callback and then calls
    `consume()` for every queue; consuming here, before that, let RabbitMQ
    deliver a waiting message (one a killed worker left) to a consumer with
    no callback yet, and the worker stopped with "Consumer does not have any
    callbacks".
    """
    queues = c.app.amqp.queues
    if queue in queues:
        declared = queues.select_add(queues[queue])
    else:
        declared = queues.select_add(queue, exchange=queue, exchange_type="direct")
    if not c.task_consumer.consuming_from(queue):
        c.task_consumer.add_queue(declared)
        log.info("kostyor: consuming from %s", queue)


class RunQueues(bootsteps.StartStopStep):
    """Consumer bootstep: live runs' queues at start, a reconciliation, then a watcher."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.watcher: threading.Thread | None = None
        self.stopping = threading.Event()
        self.sent: dict[str, float] = {}
        # Queues of ended runs this worker stopped consuming: deleted once it has.
        self.retired: set[str] = set()

    def start(self, c) -> None:
        store = get_store()
        for queue in sorted(wanted_queues(store, settings.worker_host)):
            _add_queue_before_loop(c, queue)
        reconcile_all(c.app, store, force=True)
        if self.watcher is None:
            self.watcher = threading.Thread(
                target=self._watch, args=(c,), name="kostyor-run-queues", daemon=True
            )
            self.watcher.start()

    def shutdown(self, c) -> None:
        self.stopping.set()

    def _consuming(self, c) -> set[str]:
        consumer = c.task_consumer
        if consumer is None:
            return set()
        return {queue.name for queue in list(consumer.queues)}

    def _watch(self, c) -> None:
        store = get_store()
        last_reconcile = time.monotonic()
        while not self.stopping.wait(SCAN_SECONDS):
            try:
                self._adjust(c, store, settings.worker_host)
                if time.monotonic() - last_reconcile >= settings.stall_seconds / 3:
                    last_reconcile = time.monotonic()
                    reconcile_all(c.app, store, force=False, stall_seconds=settings.stall_seconds)
            except Exception:
                log.exception("kostyor: watching run queues failed")

    def _adjust(self, c, store, host: str | None) -> None:
        # Queue changes go through the worker's own control mailbox, so they
        # are applied by the consumer's thread, never from this one.
        wanted = wanted_queues(store, host)
        consuming = self._consuming(c)
        now = time.monotonic()
        for queue in sorted(wanted - consuming):
            if now - self.sent.get(queue, 0.0) >= RESEND_SECONDS:
                self.sent[queue] = now
                c.app.control.add_consumer(queue, destination=[c.hostname], reply=False)
        for queue in sorted(consuming - wanted):
            if (
                queue.startswith(RUN_QUEUE_PREFIX)
                and now - self.sent.get(queue, 0.0) >= RESEND_SECONDS
            ):
                self.sent[queue] = now
                c.app.control.cancel_consumer(queue, destination=[c.hostname], reply=False)
                self.retired.add(queue)
        self._delete_retired(c, store, consuming)

    def _delete_retired(self, c, store, consuming: set[str]) -> None:
        for queue in sorted(self.retired - consuming):
            self.retired.discard(queue)
            run_id = run_of_queue(queue)
            try:
                run = store.run(run_id) if run_id else None
            except RuntimeProblem:
                continue
            if run is not None and ended_for_good(run):
                delete_queues(c.app, [queue])
