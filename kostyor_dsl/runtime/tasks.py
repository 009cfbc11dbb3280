"""The step task: the guard around every unit of every run.

It consults the run record first (a paused, cancelled or finished run does
nothing; a unit already done, or whose predecessor is not done, is a stray
copy), takes the unit's lock (a copy delivered twice never runs twice at
once), runs the driver's signature, and records the outcome last.  A stray
copy raises `Ignore`: the message is acknowledged, no result is stored, and
the rest of its chain is dropped, since the copy that ran the unit continues.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from celery.exceptions import Ignore

from kostyor_dsl.runtime.app import app, get_store
from kostyor_dsl.runtime.canvas import STEP_TASK
from kostyor_dsl.runtime.errors import RuntimeProblem, StepFailed, UnknownRun
from kostyor_dsl.runtime.reconcile import publish_from
from kostyor_dsl.runtime.run_context import driver_for, driver_signature, run_context

log = logging.getLogger(__name__)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, RuntimeProblem):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


@app.task(bind=True, name=STEP_TASK, acks_late=True, reject_on_worker_lost=True)
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
    if store.step(run_id, index).state == "succeeded":
        raise Ignore()
    if index and store.step(run_id, index - 1).state != "succeeded":
        raise Ignore()

    with store.unit_lock(run_id, index) as held:
        if not held:
            raise Ignore()
        # Checked again under the lock: a pause or a finishing copy may have
        # landed between the first look and taking the lock.
        if store.run(run_id).state != "running":
            raise Ignore()
        record = store.step(run_id, index)
        if record.state == "succeeded":
            raise Ignore()
        record = replace(
            record,
            state="running",
            started=time.time(),
            finished=None,
            error=None,
            attempts=record.attempts + 1,
            worker=self.request.hostname,
        )
        store.put_step(run_id, record)
        store.update_run(run_id, lambda current: replace(current, updated=time.time()))
        try:
            signature = driver_signature(driver_for(run), context.steps[unit.step_id], unit)
            outcome = signature.apply(throw=True).result
        except Exception as exc:
            message = _describe_error(exc)
            store.put_step(
                run_id, replace(record, state="failed", finished=time.time(), error=message)
            )
            store.update_run(
                run_id,
                lambda current: (
                    replace(
                        current,
                        state="failed",
                        error=f"step {unit.id} failed: {message}",
                        failed_step=unit.id,
                    )
                    if current.state in ("running", "paused")
                    else current
                ),
            )
            raise StepFailed(f"step {unit.id} failed: {message}", unit.id, run_id) from None
        store.put_step(
            run_id, replace(record, state="succeeded", finished=time.time(), result=outcome)
        )
        run = store.update_run(
            run_id, lambda current: replace(current, progress=max(current.progress, index + 1))
        )

    if index + 1 >= run.unit_count:
        store.update_run(
            run_id,
            lambda current: (
                replace(current, state="succeeded")
                if current.state in ("running", "paused")
                else current
            ),
        )
    elif index == context.segment_of(index).last and run.state == "running":
        publish_from(app, store, run, index + 1)
    return {"step": unit.id, "result": outcome}
