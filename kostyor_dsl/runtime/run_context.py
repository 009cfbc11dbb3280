"""What a worker needs to know about a run, read once per run and cached."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kostyor_dsl.runtime.canvas import (
    Segment,
    Stage,
    Unit,
    schedule,
    segment_of,
    segments_of,
)
from kostyor_dsl.runtime.drivers import Driver, load_driver
from kostyor_dsl.runtime.errors import StepFailed
from kostyor_dsl.runtime.failure_policy import GroupPolicy, policies_of
from kostyor_dsl.runtime.run_checks import step_host_problem


@dataclass(frozen=True)
class RunContext:
    run_id: str
    plan: dict[str, Any]
    units: tuple[Unit, ...]
    segments: tuple[Segment, ...]
    steps: dict[str, dict[str, Any]]
    stages: tuple[Stage, ...] = ()
    policies: dict[str, GroupPolicy] | None = None

    def segment_of(self, index: int) -> Segment:
        return segment_of(list(self.segments), index)


def context_of(plan: dict[str, Any], run_id: str, route: str) -> RunContext:
    """A run's context from its plan, the plan cut into units once."""
    units, stages = schedule(plan, run_id, route)
    return RunContext(
        run_id=run_id,
        plan=plan,
        units=tuple(units),
        segments=tuple(segments_of(units, run_id)),
        steps={step["id"]: step for step in plan["steps"]},
        stages=tuple(stages),
        policies=policies_of(plan),
    )


@functools.lru_cache(maxsize=16)
def _context(store, run_id: str, route: str) -> RunContext:
    return context_of(store.plan(run_id), run_id, route)


def run_context(store, run) -> RunContext:
    return _context(store, run.run_id, run.route)


@functools.lru_cache(maxsize=16)
def _driver(name: str, parameters: tuple[tuple[str, Any], ...]) -> Driver:
    return load_driver(name, dict(parameters))


def driver_for(run) -> Driver:
    return _driver(run.driver, tuple(sorted(run.parameters.items())))


def driver_signature(driver: Driver, step: dict[str, Any], unit: Unit):
    """The driver's signature for one unit of a plan step.

    The unit's host names and the step's targets are checked again here,
    whatever `kostyorc run` checked: a plan submitted another way never hands a
    driver a name such as `-oProxyCommand=...` or `all` (the step fails
    instead, naming the host or target)."""
    problem = step_host_problem(unit.id, unit.hosts, step.get("targets"))
    if problem is not None:
        raise StepFailed(problem, unit.id)
    kind = step["kind"]
    if kind == "pre-upgrade":
        return driver.pre_upgrade(step["action"], step.get("parameters", {}))
    if kind == "post-upgrade":
        return driver.post_upgrade(step["action"], step.get("parameters", {}))
    if kind == "upgrade":
        return driver.start(step["service"], list(unit.hosts))
    host = unit.hosts[0] if unit.hosts else None
    return driver.action(step.get("action") or kind, host, step.get("parameters", {}))
