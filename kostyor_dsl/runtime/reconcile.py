"""Move a run along its stages, and re-publish what has no message.

A run's units are scheduled in stages (`canvas.Stage`): the lanes of the
current stage (`RunRecord.stage`) may run, in parallel; the next stage starts
when every lane of this one has finished.  The lane that finishes last sees
the stage complete and advances the run (`advance`), publishing the first
segment of every lane of the next stage.  The barrier is the run record
itself: each finishing lane records its own outcome *before* it looks at
the others', so of two lanes finishing at the same moment at least one sees
both done, and the stage counter moves under the run record's lock, so only
one of them publishes.  Nothing of it lives in the broker, so it survives a
worker's death and a restart.

A message can still be lost (the embedded broker drops the message of a
worker killed mid-step; Redis returns it only after its visibility
timeout), and a worker can die between recording a unit and publishing what
follows.  Reconciliation finds, in the current stage, each unfinished
lane's next unit and, unless a live worker holds its lock, publishes the
rest of its segment (advancing past stages already complete).  Publishing a
message that already exists is harmless: the step task runs a unit only
once (its lock and its recorded state decide), and drops the extra copy.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from kostyor_dsl.runtime import budget_guard
from kostyor_dsl.runtime.canvas import signatures, tail_from
from kostyor_dsl.runtime.records import COMPLETED_STATES
from kostyor_dsl.runtime.run_context import RunContext, run_context
from kostyor_dsl.runtime.run_queues import delete_queues, ended_for_good, run_queues
from kostyor_dsl.runtime.run_store import LANE_DONE_STATES

log = logging.getLogger(__name__)

_CHUNK = 64


def publish_from(
    app, store, run, index: int | list[int], context: RunContext | None = None
) -> None:
    """Send the rest of the segment holding unit `index` (or each of a list), starting there."""
    if context is None:
        context = run_context(store, run)
    segments = list(context.segments)
    for start in [index] if isinstance(index, int) else index:
        signatures([tail_from(segments, start)], app)[0].apply_async()
    store.update_run(run.run_id, lambda record: replace(record, published_at=time.time()))


def stage_complete(
    store, context: RunContext, run_id: str, stage: int, start_lane: int = 0
) -> bool:
    """Whether every lane of `stage` has finished (its last unit succeeded, skipped or failed).

    Lanes are read from `start_lane` on, wrapping around, and the look stops
    at the first unfinished lane: a lane finishing right after its neighbour
    usually finds the next one still running after one read.
    """
    lanes = context.stages[stage].lanes
    count = len(lanes)
    start, size = 0, 1  # one read first: usually the next lane is still running
    while start < count:
        chunk = [
            lanes[(start_lane + offset) % count].last
            for offset in range(start, min(start + size, count))
        ]
        records = store.steps_at(run_id, chunk)
        if any(records[index].state not in LANE_DONE_STATES for index in chunk):
            return False
        start, size = start + size, _CHUNK
    return True


def skip_rest_of_lane(store, context: RunContext, run_id: str, index: int) -> list[str]:
    """Mark the pending units after `index` in its lane skipped; their ids."""
    unit = context.units[index]
    lane = context.stages[unit.stage].lanes[unit.lane]
    skipped = []
    records = store.steps_at(run_id, list(range(index + 1, lane.last + 1)))
    for later in range(index + 1, lane.last + 1):
        record = records[later]
        if record.state in ("pending", "revoked"):
            store.put_step(
                run_id,
                replace(
                    record,
                    state="skipped",
                    finished=time.time(),
                    error=f"skipped: {unit.id} failed on this host",
                ),
            )
            skipped.append(context.units[later].id)
    return skipped


def open_lanes(store, context: RunContext, run_id: str, stage: int) -> list[int] | str:
    """The next unit of each unfinished lane of `stage`.

    A failed unit of a rollout batch finishes its lane (the host's later units
    are skipped, here too if the worker died before doing it).  A failed unit
    elsewhere stops the run: that is returned as a message instead.
    """
    current = context.stages[stage]
    # The first unit of each lane first: a lane reads on only when that one is
    # done (a node-by-node stage is one lane of the whole plan).
    records = store.steps_at(run_id, [lane.first for lane in current.lanes])
    waiting: list[int] = []
    for lane in current.lanes:
        state = records[lane.first].state
        if lane.last > lane.first and (state in COMPLETED_STATES or state == "skipped"):
            records.update(store.steps_at(run_id, list(range(lane.first + 1, lane.last + 1))))
        for index in range(lane.first, lane.last + 1):
            state = records[index].state
            if state in COMPLETED_STATES or state == "skipped":
                continue
            if state == "failed":
                if not current.parallel:
                    return f"step {context.units[index].id} had failed"
                skip_rest_of_lane(store, context, run_id, index)
                break
            waiting.append(index)
            break
    return waiting


def _finished(record):
    if record.state == "running" or (record.state == "paused" and not record.pause_reason):
        return replace(record, state="succeeded")
    return record


def advance(app, store, context: RunContext, run_id: str, stage: int) -> None:
    """Stage `stage` is complete: move the run to the next stage with work, and publish it."""
    count = len(context.stages)
    following = stage + 1
    while following < count and stage_complete(store, context, run_id, following):
        following += 1
    moved = []

    def change(record):
        if record.stage != stage:
            return record
        moved.append(True)
        record = replace(record, stage=following)
        if following >= count:
            return _finished(record)
        reason = budget_guard.breach(
            context.plan,
            budget_guard.failed_hosts(record.failed_hosts),
            context.stages[following],
            context.units,
        )
        if reason is not None and record.state == "running":
            return replace(record, state="paused", pause_reason=reason)
        return record

    run = store.update_run(run_id, change)
    if moved and following < count and run.state == "running":
        publish_stage(app, store, context, run, following)
    elif moved and following >= count and ended_for_good(run):
        delete_queues(app, run_queues(store, run))


def publish_stage(app, store, context: RunContext, run, stage: int) -> None:
    """Publish the next segment of every unfinished lane of `stage`."""
    waiting = open_lanes(store, context, run.run_id, stage)
    if isinstance(waiting, str):
        return
    if waiting:
        publish_from(app, store, run, waiting, context)


def finish_lane(app, store, context: RunContext, run_id: str, index: int) -> None:
    """Unit `index`, the last of its lane, is recorded: advance if its stage is complete."""
    unit = context.units[index]
    if stage_complete(store, context, run_id, unit.stage, start_lane=unit.lane + 1):
        advance(app, store, context, run_id, unit.stage)


def reconcile_run(app, store, run_id: str, *, force: bool, stall_seconds: float = 30.0) -> str:
    """Make sure a running run has a message for each next unit; says what it did."""
    run = store.run(run_id)
    if run.state != "running":
        return f"{run.state}: nothing to do"
    if not force and time.time() - max(run.updated, run.published_at) < stall_seconds:
        return "recently active"
    context = run_context(store, run)
    count = len(context.stages)
    stage = run.stage
    waiting: list[int] = []
    while stage < count:
        found = open_lanes(store, context, run_id, stage)
        if isinstance(found, str):
            store.update_run(
                run_id,
                lambda record: (
                    replace(record, state="failed") if record.state == "running" else record
                ),
            )
            return f"{found}: marked failed"
        if found:
            waiting = found
            break
        stage += 1
    if stage != run.stage:
        run = store.update_run(
            run_id,
            lambda record: replace(record, stage=stage) if record.stage == run.stage else record,
        )
    if stage >= count:
        run = store.update_run(run_id, _finished)
        if ended_for_good(run):
            delete_queues(app, run_queues(store, run))
        return "all steps done: marked succeeded"
    idle = [index for index in waiting if not store.unit_locked(run_id, index)]
    if not idle:
        return f"step {waiting[0] + 1}/{run.unit_count} is running"
    publish_from(app, store, run, idle)
    names = ", ".join(context.units[index].id for index in idle[:3])
    more = f" and {len(idle) - 3} more" if len(idle) > 3 else ""
    log.info("kostyor: re-published run %s: %s%s", run_id, names, more)
    return f"next: step {idle[0] + 1}/{run.unit_count} {names}{more}"


def reconcile_all(app, store, *, force: bool, stall_seconds: float = 30.0) -> None:
    for run in store.live_runs():
        if run.state != "running":
            continue
        try:
            reconcile_run(app, store, run.run_id, force=force, stall_seconds=stall_seconds)
        except Exception:
            log.exception("kostyor: reconciling run %s failed", run.run_id)
