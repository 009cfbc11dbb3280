"""Submit a run and steer it: pause, resume, cancel, retry.

The run record is the authority: every verb changes it first (durably, so a
worker restart does not undo it), then nudges the broker.  Step tasks read it
before doing anything, which is what makes pause and cancel hold even for a
message already on the broker.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import replace
from typing import Any

from kostyor_dsl.runtime.canvas import SEGMENT_LIMIT, host_queue, run_queue, task_id, units_of
from kostyor_dsl.runtime.errors import InvalidTransition
from kostyor_dsl.runtime.reconcile import next_unit, publish_from, reconcile_run
from kostyor_dsl.runtime.run_store import RunRecord


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def submit(
    app,
    store,
    plan: dict,
    *,
    driver: str,
    parameters: dict[str, Any],
    route: str = "run",
    plan_file: str = "",
) -> str:
    run_id = new_run_id()
    units = units_of(plan, run_id, route)
    now = time.time()
    record = RunRecord(
        run_id=run_id,
        state="running" if units else "succeeded",
        driver=driver,
        parameters=dict(parameters),
        route=route,
        unit_count=len(units),
        created=now,
        updated=now,
        plan_file=plan_file,
    )
    store.create_run(record, plan)
    if units:
        publish_from(app, store, record, 0)
    return run_id


def pause(store, run_id: str) -> str:
    def change(run: RunRecord) -> RunRecord:
        if run.state == "paused":
            return run
        if run.state != "running":
            raise InvalidTransition(f"run {run_id} is {run.state}: only a running run can pause")
        return replace(run, state="paused")

    before = store.run(run_id).state
    store.update_run(run_id, change)
    if before == "paused":
        return f"run {run_id} was already paused"
    return f"run {run_id} paused: no new step starts; a running step finishes"


def resume(app, store, run_id: str) -> str:
    def change(run: RunRecord) -> RunRecord:
        if run.state in ("paused", "running"):
            return replace(run, state="running")
        hint = " (use `kostyorc retry`)" if run.state == "failed" else ""
        raise InvalidTransition(f"run {run_id} is {run.state}: cannot resume{hint}")

    store.update_run(run_id, change)
    outcome = reconcile_run(app, store, run_id, force=True)
    return f"run {run_id} resumed ({outcome})"


def retry(app, store, run_id: str) -> str:
    run = store.run(run_id)
    if run.state != "failed":
        raise InvalidTransition(f"run {run_id} is {run.state}: only a failed run can be retried")
    for record in store.steps(run_id, run.unit_count):
        if record.state in ("failed", "running", "revoked"):
            store.put_step(run_id, replace(record, state="pending", error=None, finished=None))

    def change(current: RunRecord) -> RunRecord:
        if current.state != "failed":
            raise InvalidTransition(f"run {run_id} is {current.state}: cannot retry")
        return replace(current, state="running", error=None, failed_step=None)

    store.update_run(run_id, change)
    outcome = reconcile_run(app, store, run_id, force=True)
    return f"run {run_id} retried from step {run.failed_step} ({outcome})"


def run_queues(store, run: RunRecord) -> list[str]:
    queues = [run_queue(run.run_id)]
    if run.route == "per-host":
        plan = store.plan(run.run_id)
        hosts = sorted({host for step in plan["steps"] for host in step.get("hosts", [])})
        queues.extend(host_queue(run.run_id, host) for host in hosts)
    return queues


def purge_queues(app, queues: list[str]) -> int:
    """Empty the run's queues; a queue the broker never saw is skipped."""
    from kombu import Exchange, Queue

    removed = 0
    with app.connection_for_write() as connection:
        for name in queues:
            channel = connection.channel()
            try:
                bound = Queue(name, Exchange(name, "direct"), routing_key=name)(channel)
                removed += bound.purge() or 0
            except Exception:
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return removed


def cancel(app, store, run_id: str, *, now: bool = False) -> str:
    def change(run: RunRecord) -> RunRecord:
        if run.state in ("cancelled", "succeeded"):
            raise InvalidTransition(f"run {run_id} is already {run.state}")
        return replace(run, state="cancelled")

    run = store.update_run(run_id, change)
    plan = store.plan(run_id)
    units = units_of(plan, run_id, run.route)
    first = next_unit(store, run)
    # Only the current segment and the next can have messages on the broker.
    doomed = [task_id(run_id, unit.id) for unit in units[first : first + 2 * SEGMENT_LIMIT]]
    running = [
        unit
        for unit in units[first : first + 2 * SEGMENT_LIMIT]
        if store.step(run_id, unit.index).state == "running"
    ]
    if doomed:
        app.control.revoke(doomed)
    if now:
        for unit in running:
            app.control.revoke(task_id(run_id, unit.id), terminate=True, signal="SIGTERM")
            record = store.step(run_id, unit.index)
            store.put_step(
                run_id,
                replace(
                    record,
                    state="revoked",
                    finished=time.time(),
                    error="terminated by cancel --now",
                ),
            )
    purge_queues(app, run_queues(store, run))
    if now and running:
        return f"run {run_id} cancelled; terminated {', '.join(unit.id for unit in running)}"
    if running:
        return f"run {run_id} cancelled; {', '.join(unit.id for unit in running)} finishes first"
    return f"run {run_id} cancelled"
