"""Submit a run and steer it: pause, resume, cancel, retry.

The run record is the authority: every verb changes it first (durably, so a
worker restart does not undo it), then nudges the broker.  Step tasks read it
before doing anything, which is what makes pause and cancel hold even for a
message already on the broker.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kostyor_dsl.runtime.canvas import SEGMENT_LIMIT, task_id
from kostyor_dsl.runtime.errors import InvalidTransition, StoreNotDurable
from kostyor_dsl.runtime.failure_policy import forget_hosts
from kostyor_dsl.runtime.reconcile import publish_stage, reconcile_run
from kostyor_dsl.runtime.run_context import context_of, run_context
from kostyor_dsl.runtime.run_queues import delete_queues, purge_queues, run_queues
from kostyor_dsl.runtime.run_store import RunRecord

__all__ = [
    "available_verbs",
    "cancel",
    "delete_queues",
    "new_run_id",
    "pause",
    "purge_queues",
    "resume",
    "retry",
    "run_queues",
    "submit",
]

# How many task ids `cancel` revokes at most; the purge and the step task's
# own look at the run state stop the rest.
REVOKE_LIMIT = 2 * SEGMENT_LIMIT + 200


def available_verbs(run: RunRecord) -> frozenset[str]:
    """The verbs this run's state accepts, by the rules the verbs below enforce
    (the web view enables its buttons by it).

    `approve` is `resume` at a gate.  `resume` of a running run (a nudge after
    a broker crash) is accepted too, but a view has no reason to offer it.
    """
    verbs = set()
    if run.state == "running":
        verbs.add("pause")
    if run.state == "paused":
        verbs.add("approve" if run.gate else "resume")
    if run.state not in ("cancelled", "succeeded"):
        verbs.add("cancel")
    if run.state == "failed" or (run.state in ("paused", "succeeded") and run.failed_hosts):
        verbs.add("retry")
    return frozenset(verbs)


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
    seal: str | None = None,
    edited: str | None = None,
    allow_volatile_store: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """Create the run's record and send its first steps; the run id.

    `seal` and `edited` are what `run_checks.check_run` found: the plan's seal,
    and why it did not match.  A store that a restart would empty (Redis
    keeping nothing on disk) is refused (`StoreNotDurable`) unless
    `allow_volatile_store` (default: `KOSTYOR_ALLOW_VOLATILE_STORE` is set),
    and then `warn` is told.
    """
    if allow_volatile_store is None:
        allow_volatile_store = os.environ.get("KOSTYOR_ALLOW_VOLATILE_STORE", "") not in ("", "0")
    problem = store.persistence_problem()
    if problem:
        if not allow_volatile_store:
            raise StoreNotDurable(
                f"refusing to start a run: {problem}; turn on persistence "
                "(`CONFIG SET appendonly yes`, and `appendonly yes` in redis.conf), use "
                "another backend, or set KOSTYOR_ALLOW_VOLATILE_STORE=1 to run anyway"
            )
        if warn is not None:
            warn(f"{problem}: this run's state is lost if it restarts")
    run_id = new_run_id()
    # The plan in hand, cut once: the record's count and the first stage's messages.
    context = context_of(plan, run_id, route)
    units = context.units
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
        seal=seal,
        edited=edited,
    )
    store.create_run(record, plan)
    if units:
        publish_stage(app, store, context, record, 0)
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
    """Continue a paused run: past its gate, or past a failure threshold (the
    failed hosts stay failed, their later steps skipped)."""
    run = store.run(run_id)
    if run.state not in ("paused", "running"):
        hint = " (use `kostyorc retry`)" if run.state == "failed" else ""
        raise InvalidTransition(f"run {run_id} is {run.state}: cannot resume{hint}")
    passed = ""
    if run.state == "paused" and run.gate:
        index = next(unit.index for unit in run_context(store, run).units if unit.id == run.gate)
        record = store.step(run_id, index)
        if record.state == "waiting":
            store.put_step(run_id, replace(record, state="succeeded", finished=time.time()))
        passed = f"past gate {run.gate}; "

    def change(current: RunRecord) -> RunRecord:
        if current.state in ("paused", "running"):
            # Past a failure threshold the failed hosts stay in `failed_hosts`.
            failed_step = None if current.pause_reason else current.failed_step
            return replace(
                current,
                state="running",
                gate=None,
                pause_reason=None,
                failed_step=failed_step,
                progress=current.progress + (1 if current.gate else 0),
            )
        raise InvalidTransition(f"run {run_id} is {current.state}: cannot resume")

    store.update_run(run_id, change)
    outcome = reconcile_run(app, store, run_id, force=True)
    return f"run {run_id} resumed ({passed}{outcome})"


def retry(app, store, run_id: str) -> str:
    """Run failed steps again.

    A failed run starts again from its failed step.  A run with failed hosts
    in rollout groups (paused at a failure threshold, or finished with
    tolerated failures) runs those hosts' failed and skipped steps again
    first, from the earliest stage that has one, then continues.
    """
    run = store.run(run_id)
    if run.state == "failed":
        # The failed step is in the current stage; failed hosts of earlier
        # batches stay as they are (a later `retry` runs them again).
        context = run_context(store, run)
        stage = context.stages[min(run.stage, len(context.stages) - 1)]
        records = store.steps_at(run_id, list(range(stage.first, stage.last + 1)))
        for record in records.values():
            if record.state in ("failed", "running", "revoked"):
                store.put_step(run_id, replace(record, state="pending", error=None, finished=None))

        def change(current: RunRecord) -> RunRecord:
            if current.state != "failed":
                raise InvalidTransition(f"run {run_id} is {current.state}: cannot retry")
            return replace(current, state="running", error=None, failed_step=None)

        store.update_run(run_id, change)
        outcome = reconcile_run(app, store, run_id, force=True)
        return f"run {run_id} retried from step {run.failed_step} ({outcome})"

    if run.state not in ("paused", "succeeded") or not run.failed_hosts:
        raise InvalidTransition(
            f"run {run_id} is {run.state} with no failed step: only a failed run, or one "
            "with failed hosts, can be retried"
            + (" (use `kostyorc resume`)" if run.state == "paused" else "")
        )
    context = run_context(store, run)
    hosts = {host for failed in run.failed_hosts.values() for host in failed}
    again = [
        unit
        for unit in context.units
        if unit.group is not None and unit.hosts and unit.hosts[0] in hosts
    ]
    records = store.steps_at(run_id, [unit.index for unit in again])
    reset = []
    for unit in again:
        record = records[unit.index]
        if record.state in ("failed", "skipped", "revoked"):
            store.put_step(run_id, replace(record, state="pending", error=None, finished=None))
            reset.append(unit)
    first_stage = min((unit.stage for unit in reset), default=run.stage)

    def change_back(current: RunRecord) -> RunRecord:
        if current.state not in ("paused", "succeeded"):
            raise InvalidTransition(f"run {run_id} is {current.state}: cannot retry")
        current = forget_hosts(current, hosts)
        return replace(
            current,
            state="running",
            stage=min(current.stage, first_stage),
            pause_reason=None,
            gate=None,
            failed_step=None,
            error=None,
        )

    store.update_run(run_id, change_back)
    outcome = reconcile_run(app, store, run_id, force=True)
    names = ", ".join(sorted(hosts))
    return f"run {run_id} retrying {len(reset)} steps of {names} ({outcome})"


def cancel(app, store, run_id: str, *, now: bool = False) -> str:
    def change(run: RunRecord) -> RunRecord:
        if run.state in ("cancelled", "succeeded"):
            raise InvalidTransition(f"run {run_id} is already {run.state}")
        return replace(run, state="cancelled")

    run = store.update_run(run_id, change)
    context = run_context(store, run)
    units = context.units
    # Only the current stage (and the first segments of the next) can have
    # messages on the broker.
    if run.stage < len(context.stages):
        stage = context.stages[run.stage]
        window = list(units[stage.first : stage.last + 1 + SEGMENT_LIMIT])
    else:
        window = []
    records = store.steps_at(run_id, [unit.index for unit in window])
    live = [unit for unit in window if records[unit.index].state in ("pending", "running")]
    doomed = [task_id(run_id, unit.id) for unit in live[:REVOKE_LIMIT]]
    running = [unit for unit in live if records[unit.index].state == "running"]
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
    queues = run_queues(store, run)
    purge_queues(app, queues)
    delete_queues(app, queues)
    if now and running:
        return f"run {run_id} cancelled; terminated {', '.join(unit.id for unit in running)}"
    if running:
        return f"run {run_id} cancelled; {', '.join(unit.id for unit in running)} finishes first"
    return f"run {run_id} cancelled"
