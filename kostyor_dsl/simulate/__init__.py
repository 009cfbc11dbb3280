"""`kostyorc simulate`: how long a plan's window is, and what stays up, before it runs.

Plain calls, no Celery (the runtime's schedule is `runtime.canvas`, which is
pure) and no matplotlib unless a plot is asked for:

    from kostyor_dsl.simulate import simulate_plan, Timings
    result = simulate_plan(plan, Timings(default=60), concurrency=2)
    result.duration

Modules: `timings` (seconds per step, the timings file), `from_run` (timings
learned from a run's record), `engine` (the event simulation), `availability`
(hosts down per tier, group and budget), `render` (text and JSON), `plot`
(matplotlib), `compare` (how the window changes, for `kostyorc diff`).
"""

from __future__ import annotations

import gc

from kostyor_dsl.runtime.canvas import schedule
from kostyor_dsl.simulate.availability import capacity, down_intervals, unavailability
from kostyor_dsl.simulate.engine import critical_path, schedule_times, stage_timings
from kostyor_dsl.simulate.model import Simulation
from kostyor_dsl.simulate.timings import (
    DEFAULT_STEP_SECONDS,
    Durations,
    Timings,
    TimingsError,
    read_timings,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_STEP_SECONDS",
    "Simulation",
    "Timings",
    "TimingsError",
    "read_timings",
    "simulate_plan",
]

# The runtime's: `kostyorc worker --concurrency` defaults to 2.
DEFAULT_CONCURRENCY = 2
CAPACITY_TIER = "compute"
_RUN_ID = "simulation"  # names queues only; the schedule does not depend on it


def simulate_plan(
    plan: dict,
    timings: Timings | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    *,
    capacity_tier: str = CAPACITY_TIER,
) -> Simulation:
    """Time `plan` (a plan read by `compiler.planfile`) as the runtime would run it."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    # Hundreds of thousands of small tuples and no cycles: the cyclic GC would
    # only walk them again and again (the compiler pauses it too).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _simulate(plan, timings or Timings(), concurrency, capacity_tier)
    finally:
        if paused:
            gc.enable()


def _simulate(plan: dict, timings: Timings, concurrency: int, capacity_tier: str) -> Simulation:
    units, stages = schedule(plan, _RUN_ID)
    steps = {step["id"]: step for step in plan["steps"]}
    durations = Durations(timings)
    of = durations.of
    seconds = [of(unit.kind, steps[unit.step_id], unit.hosts) for unit in units]
    start, end, cause, waited = schedule_times(
        units, stages, seconds, concurrency, timings.dispatch
    )
    duration = max(end, default=0.0)
    intervals = down_intervals(units, stages, start, end)
    found, notes = unavailability(plan, intervals)
    return Simulation(
        strategy=plan.get("strategy", ""),
        engine=plan.get("engine", ""),
        steps=len(plan["steps"]),
        concurrency=concurrency,
        timings=timings,
        duration=duration,
        stages=tuple(stage_timings(units, stages, start, end)),
        critical_path=tuple(critical_path(units, stages, start, end, cause, waited)),
        unavailable=tuple(found),
        capacity=capacity(found, capacity_tier, duration),
        notes=tuple(notes),
        capacity_tier=capacity_tier,
        unit_ids=tuple(unit.id for unit in units),
        unit_stage=tuple(unit.stage for unit in units),
        unit_lane=tuple(unit.lane for unit in units),
        unit_hosts=tuple(unit.hosts for unit in units),
        unit_start=tuple(start),
        unit_end=tuple(end),
    )
