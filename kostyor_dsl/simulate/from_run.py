"""Timings learned from a run's record: plan the next window from the last one.

Every unit the runtime ran records when it started and finished
(`runtime.run_store.StepRecord`).  Of the units that succeeded on their
first attempt (or were done elsewhere: the deployment tool did their work
inside another step, so they take that little again), the median time per service (upgrade steps) and per action
(hooks, pre- and post-upgrade steps) becomes the timings; a step of another
plan that the run never timed takes the default.  Gates are not learned (an
operator's pause says nothing about the next window): they take `gate`.

The runtime's own hand-over between steps (publishing the next one, a
worker picking it up) is learned too, as the median gap between a unit's
end and the start of the next one where nothing else can delay it: one
after another in a one-lane stage, and from a stage's end to the next
stage's first start (not after a gate, whose end is the operator's resume).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from kostyor_dsl.runtime.canvas import schedule
from kostyor_dsl.runtime.records import COMPLETED_STATES
from kostyor_dsl.simulate.timings import DEFAULT_STEP_SECONDS, Timings


@dataclass(frozen=True)
class RunSample:
    run_id: str
    state: str
    timed: int  # units whose time was learned
    units: int
    measured: float | None  # first start to last end, gates included
    # Units the run recorded as done elsewhere (timed too: as short as they were).
    done_elsewhere: tuple[str, ...] = ()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def learn_timings(
    store, run_id: str, *, default: float = DEFAULT_STEP_SECONDS, gate: float = 0.0
) -> tuple[Timings, RunSample]:
    """The timings run `run_id` shows, and what they were learned from.

    Raises `runtime.errors.UnknownRun` for a run the store does not know.
    """
    run = store.run(run_id)
    plan = store.plan(run_id)
    units, stages = schedule(plan, run_id, run.route)
    records = store.steps(run_id, len(units))
    steps = {step["id"]: step for step in plan["steps"]}
    services: dict[str, list[float]] = {}
    actions: dict[str, list[float]] = {}
    timed = 0
    elsewhere: list[str] = []
    for unit, record in zip(units, records, strict=True):
        if unit.kind == "gate" or record.state not in COMPLETED_STATES or record.attempts != 1:
            continue
        if record.state == "done-elsewhere":
            elsewhere.append(unit.id)
        if record.started is None or record.finished is None:
            continue
        step = steps[unit.step_id]
        if unit.kind == "upgrade":
            table, name = services, step.get("service")
        else:
            table, name = actions, step.get("action")
        table.setdefault(name, []).append(max(0.0, record.finished - record.started))
        timed += 1
    gaps: list[float] = []
    previous_end: float | None = None
    previous_gate = False
    for stage in stages:
        first = records[stage.first]
        if previous_end is not None and not previous_gate and first.started is not None:
            gaps.append(first.started - previous_end)
        if not stage.parallel:
            for index in range(stage.first + 1, stage.last + 1):
                before, after = records[index - 1], records[index]
                if (
                    units[index - 1].kind != "gate"
                    and before.finished is not None
                    and after.started is not None
                ):
                    gaps.append(after.started - before.finished)
        ends = [
            records[i].finished for i in range(stage.first, stage.last + 1) if records[i].finished
        ]
        previous_end = max(ends) if ends else None
        previous_gate = units[stage.last].kind == "gate"
    starts = [r.started for r in records if r.started is not None]
    ends = [r.finished for r in records if r.finished is not None]
    measured = round(max(ends) - min(starts), 3) if starts and ends else None
    timings = Timings(
        default=default,
        gate=gate,
        dispatch=_median([max(0.0, gap) for gap in gaps]) if gaps else 0.0,
        services={name: _median(values) for name, values in sorted(services.items())},
        actions={name: _median(values) for name, values in sorted(actions.items())},
        source=f"run {run_id} (medians of {timed} timed steps)",
    )
    return timings, RunSample(run_id, run.state, timed, len(units), measured, tuple(elsewhere))
