"""Re-publish a running run's next step when nothing else will.

A message can be lost (the embedded broker drops the message of a worker
killed mid-step; Redis returns it only after its visibility timeout), and a
worker can die between recording a step done and publishing the next
segment.  Reconciliation finds the run's first unfinished unit and, unless a
live worker holds its lock, publishes the rest of its segment.  Publishing a
message that already exists is harmless: the step task runs a unit only once
(its lock and its recorded state decide), and drops the extra copy.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from kostyor_dsl.runtime.canvas import signatures, tail_from
from kostyor_dsl.runtime.run_context import run_context

log = logging.getLogger(__name__)


def next_unit(store, run) -> int:
    """The first unit of the run not yet succeeded."""
    index = run.progress
    # `progress` is written after the unit's own record, so it may lag by one.
    while index < run.unit_count and store.step(run.run_id, index).state == "succeeded":
        index += 1
    return index


def publish_from(app, store, run, index: int) -> None:
    """Send the rest of the segment holding unit `index`, starting there."""
    context = run_context(store, run)
    segment = tail_from(list(context.segments), index)
    signatures([segment], app)[0].apply_async()
    store.update_run(run.run_id, lambda record: replace(record, published_at=time.time()))


def reconcile_run(app, store, run_id: str, *, force: bool, stall_seconds: float = 30.0) -> str:
    """Make sure a running run has a message for its next unit; says what it did."""
    run = store.run(run_id)
    if run.state != "running":
        return f"{run.state}: nothing to do"
    index = next_unit(store, run)
    if index >= run.unit_count:
        store.update_run(
            run_id,
            lambda record: (
                replace(record, state="succeeded") if record.state == "running" else record
            ),
        )
        return "all steps done: marked succeeded"
    if store.step(run_id, index).state == "failed":
        store.update_run(
            run_id,
            lambda record: replace(record, state="failed") if record.state == "running" else record,
        )
        return "its next step had failed: marked failed"
    if store.unit_locked(run_id, index):
        return f"step {index + 1}/{run.unit_count} is running"
    if not force and time.time() - max(run.updated, run.published_at) < stall_seconds:
        return "recently active"
    publish_from(app, store, run, index)
    unit_id = run_context(store, run).units[index].id
    log.info("kostyor: re-published run %s from step %d (%s)", run_id, index + 1, unit_id)
    return f"next: step {index + 1}/{run.unit_count} {unit_id}"


def reconcile_all(app, store, *, force: bool, stall_seconds: float = 30.0) -> None:
    for run in store.live_runs():
        if run.state != "running":
            continue
        try:
            reconcile_run(app, store, run.run_id, force=force, stall_seconds=stall_seconds)
        except Exception:
            log.exception("kostyor: reconciling run %s failed", run.run_id)
