"""The step task: the guard around every unit of every run.

It consults the run record first (a paused, cancelled or finished run does
nothing; a unit of a stage that is not the run's current one, a unit already
done, or whose predecessor in its lane is not done, is a stray copy), takes
the unit's lock (a copy delivered twice never runs twice at once), runs the
driver's signature, and records the outcome last.  A stray copy raises
`Ignore`: the message is acknowledged, no result is stored, and the rest of
its chain is dropped, since the copy that ran the unit continues.

What follows a unit: the next segment of its lane, or, for the last unit of
a lane, the stage barrier (`reconcile.finish_lane`).  A gate pauses the run
instead of running anything.  A failed unit of a rollout batch counts its
host against the group's failure policy (`failure_policy`), skips the host's
later units and finishes its lane; elsewhere a failure fails the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from celery.exceptions import Ignore

from kostyor_dsl.runtime.app import app
from kostyor_dsl.runtime.canvas import STEP_TASK
from kostyor_dsl.runtime.current import get_store
from kostyor_dsl.runtime.errors import RuntimeProblem, StepFailed, UnknownRun
from kostyor_dsl.runtime.failure_policy import GroupPolicy, record_failure
from kostyor_dsl.runtime.reconcile import finish_lane, publish_from, skip_rest_of_lane
from kostyor_dsl.runtime.records import COMPLETED_STATES, completed_state
from kostyor_dsl.runtime.run_context import driver_for, driver_signature, run_context
from kostyor_dsl.runtime.run_store import LANE_DONE_STATES
from kostyor_dsl.runtime.step_context import StepContext, entered
from kostyor_dsl.runtime.step_processes import marker, stop_leftovers

log = logging.getLogger(__name__)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, RuntimeProblem):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _fail_run(unit_id: str, message: str):
    def change(current):
        if current.state not in ("running", "paused"):
            return current
        return replace(
            current, state="failed", error=f"step {unit_id} failed: {message}", failed_step=unit_id
        )

    return change


def _stop_at_gate(unit_id: str, message: str):
    def change(current):
        if current.state != "running":
            return current
        return replace(
            current, state="paused", gate=unit_id, pause_reason=f"gate {unit_id}: {message}"
        )

    return change


def _count_failure(policy: GroupPolicy, batch: int, host: str, unit_id: str):
    return lambda current: record_failure(current, policy, batch, host, unit_id)


def _with_marker(extra: dict) -> dict:
    """The step record's extras with this process's group in place of an earlier attempt's."""
    kept = {key: value for key, value in extra.items() if key not in ("pgid", "machine")}
    return {**kept, **marker()}


def _stop_remote(run, remote) -> None:
    if not remote:
        return
    try:
        driver_for(run).stop_remote(remote)
    except Exception:
        log.exception("kostyor: run %s: the driver could not stop the remote side", run.run_id)


def _lost_lock(run_id: str, unit_id: str) -> Ignore:
    # Another attempt took the unit over (this one was cut off from the store
    # for longer than its lease): it records the outcome, this one must not.
    log.error(
        "kostyor: run %s: %s finished but its lock had passed to another attempt: not recording it",
        run_id,
        unit_id,
    )
    return Ignore()


# Acknowledged when the step starts, not when it ends: a broker closes a
# channel whose delivery stays unacknowledged past its consumer timeout
# (RabbitMQ: 30 minutes), and a step may run longer.  Redelivery is not what
# recovers a step whose worker died: the run record and reconciliation are.
@app.task(bind=True, name=STEP_TASK, acks_late=False, reject_on_worker_lost=False)
def step(self, run_id: str, index: int, unit_id: str) -> dict:
    store = get_store()
    try:
        run = store.run(run_id)
    except UnknownRun:
        log.warning("kostyor: dropping %s: unknown run", self.request.id)
        raise Ignore() from None
    if run.state != "running":
        raise Ignore()
    context = run_context(store, run)
    if index >= len(context.units) or context.units[index].id != unit_id:
        log.error("kostyor: dropping %s: not a unit of run %s", self.request.id, run_id)
        raise Ignore()
    unit = context.units[index]
    stage = context.stages[unit.stage]
    lane = stage.lanes[unit.lane]
    if unit.stage != run.stage:
        raise Ignore()
    if store.step(run_id, index).state in LANE_DONE_STATES:
        raise Ignore()
    if index > lane.first and store.step(run_id, index - 1).state not in COMPLETED_STATES:
        raise Ignore()

    failure: str | None = None
    with store.unit_lock(run_id, index) as held:
        if not held:
            raise Ignore()
        # Checked again under the lock: a pause or a finishing copy may have
        # landed between the first look and taking the lock.
        current = store.run(run_id)
        if current.state != "running" or current.stage != unit.stage:
            raise Ignore()
        record = store.step(run_id, index)
        if record.state in LANE_DONE_STATES:
            raise Ignore()
        plan_step = context.steps[unit.step_id]
        if unit.kind == "gate":
            message = plan_step.get("message") or "resume the run to go on"
            store.put_step(run_id, replace(record, state="waiting", started=time.time()))
            store.update_run(run_id, _stop_at_gate(unit.id, message))
            log.info("kostyor: run %s paused at gate %s: %s", run_id, unit.id, message)
            return {"step": unit.id, "gate": message}
        if record.state == "running":
            # An earlier attempt died mid-step: what it started must not go on
            # running beside this one.
            stop_leftovers(record.extra, record.started)
            _stop_remote(run, record.extra.get("remote"))
        record = replace(
            record,
            state="running",
            started=time.time(),
            finished=None,
            error=None,
            attempts=record.attempts + 1,
            worker=self.request.hostname,
            extra=_with_marker(record.extra),
        )
        store.put_step(run_id, record)
        store.update_run(run_id, lambda current: replace(current, updated=time.time()))

        def report(progress, running=record):
            store.put_step(run_id, replace(running, extra={**running.extra, "progress": progress}))

        def remember(remote, running=record):
            running.extra["remote"] = remote  # kept for later progress reports too
            store.put_step(run_id, replace(running, extra={**running.extra}))

        try:
            step_context = StepContext(
                run_id, unit.id, index, plan_step, unit.hosts, report, remember
            )
            with entered(step_context):
                signature = driver_signature(driver_for(run), plan_step, unit)
                outcome = signature.apply(throw=True).result
        except Exception as exc:
            failure = _describe_error(exc)
            if not held.held():
                raise _lost_lock(run_id, unit.id) from None
            if stage.parallel:
                # Counted first: a worker dying before the step is recorded
                # failed runs it again, and a host is counted once.
                policy = context.policies[unit.group]
                store.update_run(run_id, _count_failure(policy, unit.batch, unit.hosts[0], unit.id))
                store.put_step(
                    run_id, replace(record, state="failed", finished=time.time(), error=failure)
                )
                skip_rest_of_lane(store, context, run_id, index)
            else:
                store.put_step(
                    run_id, replace(record, state="failed", finished=time.time(), error=failure)
                )
                store.update_run(run_id, _fail_run(unit.id, failure))
                raise StepFailed(f"step {unit.id} failed: {failure}", unit.id, run_id) from None
        else:
            # The at-least-once window ends here: one fenced write of the record.
            done = replace(
                record, state=completed_state(outcome), finished=time.time(), result=outcome
            )
            if not held.put_step(run_id, done):
                raise _lost_lock(run_id, unit.id)
            elsewhere = int(done.state == "done-elsewhere")
            run = store.update_run(
                run_id,
                lambda current: replace(
                    current,
                    progress=current.progress + 1,
                    done_elsewhere=current.done_elsewhere + elsewhere,
                ),
            )

    if failure is not None:
        finish_lane(app, store, context, run_id, index)
        raise StepFailed(f"step {unit.id} failed: {failure}", unit.id, run_id)
    if index == lane.last:
        finish_lane(app, store, context, run_id, index)
    elif index == context.segment_of(index).last and run.state == "running":
        publish_from(app, store, run, index + 1)
    return {"step": unit.id, "result": outcome}
