"""A run's broker queues: which they are, emptying them, deleting them when the run ends.

A run's queues (`kostyor.run.<run>`, and `kostyor.run.<run>.host.<host>` for
`--route per-host`) are declared when its first step is sent.  They are
deleted when the run is over for good: cancelled, or succeeded with no failed
host (a run with failed hosts can still be retried).  Deleting a queue that a
worker consumes would cancel that worker's consumer under it, so the delete
asks the broker to refuse if the queue is in use (RabbitMQ's `if-unused`);
each worker, once it stops consuming a queue of an ended run, deletes it the
same way, so the last one out removes it.
"""

from __future__ import annotations

import contextlib

from kostyor_dsl.runtime.canvas import host_queue, run_queue

RUN_QUEUE_PREFIX = "kostyor.run."


def run_queues(store, run) -> list[str]:
    queues = [run_queue(run.run_id)]
    if run.route == "per-host":
        plan = store.plan(run.run_id)
        hosts = sorted({host for step in plan["steps"] for host in step.get("hosts", [])})
        queues.extend(host_queue(run.run_id, host) for host in hosts)
    return queues


def run_of_queue(queue: str) -> str | None:
    """The run id in a run queue's name, or None for another queue."""
    if not queue.startswith(RUN_QUEUE_PREFIX):
        return None
    return queue[len(RUN_QUEUE_PREFIX) :].split(".host.", 1)[0] or None


def ended_for_good(run) -> bool:
    """No step of the run will ever be sent again."""
    return run.state == "cancelled" or (run.state == "succeeded" and not run.failed_hosts)


def _each_queue(app, queues: list[str], action) -> int:
    from kombu import Exchange, Queue

    done = 0
    with app.connection_for_write() as connection:
        for name in queues:
            channel = connection.channel()
            try:
                bound = Queue(name, Exchange(name, "direct"), routing_key=name)(channel)
                done += action(bound) or 0
            except Exception:
                # A queue the broker never saw, or one still in use: skipped.
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return done


def purge_queues(app, queues: list[str]) -> int:
    """Empty the run's queues; how many messages were removed."""
    return _each_queue(app, queues, lambda queue: queue.purge())


def delete_queues(app, queues: list[str]) -> int:
    """Delete the queues no consumer uses; how many were deleted."""

    def delete(queue) -> int:
        queue.delete(if_unused=True)
        # The run's exchange of the same name has no binding left.
        with contextlib.suppress(Exception):
            queue.exchange.delete(if_unused=True)
        return 1

    return _each_queue(app, queues, delete)
